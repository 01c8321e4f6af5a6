// vigil.yar: Vigil's bundled YARA rules for carved files (docs/files.md). Each rule's meta gives the
// alert's category and severity; signature_id is derived from the rule name.

rule Vigil_EICAR_Test_File : test eicar
{
    meta:
        description = "EICAR anti-virus test file"
        category = "Test file"
        severity = 3
        reference = "https://www.eicar.org/download-anti-malware-testfile/"
    strings:
        // The 68-byte EICAR string, in hex so this file does not itself trip scanners.
        $eicar = { 58 35 4F 21 50 25 40 41 50 5B 34 5C 50 5A 58 35 34 28 50 5E 29 37 43 43
            29 37 7D 24 45 49 43 41 52 2D 53 54 41 4E 44 41 52 44 2D 41 4E 54 49 56
            49 52 55 53 2D 54 45 53 54 2D 46 49 4C 45 21 24 48 2B 48 2A }
    condition:
        $eicar at 0 and filesize <= 128
}

rule Vigil_PE_Executable : pe executable
{
    meta:
        description = "Windows PE executable transferred"
        category = "Executable download"
        severity = 3
    condition:
        filesize > 64 and uint16(0) == 0x5A4D and uint32(0x3C) < filesize - 4 and
        uint32(uint32(0x3C)) == 0x00004550
}

rule Vigil_ELF_Executable : elf executable
{
    meta:
        description = "Linux ELF executable transferred"
        category = "Executable download"
        severity = 3
    condition:
        uint32(0) == 0x464C457F
}

rule Vigil_Double_Extension : filename
{
    meta:
        description = "Executable hidden behind a document extension"
        category = "Suspicious filename"
        severity = 2
    condition:
        filename matches /\.(pdf|docx?|xlsx?|jpe?g|png|txt|zip)\.(exe|scr|com|pif|bat|cmd|js|vbs|hta)$/i
}
