#!/usr/bin/env python3
"""Embed GRUB's i386-pc boot.img + core.img into a GPT disk image file (BIOS boot partition).

grub-bios-setup cannot target a plain image file without mapping a host "root device", so this writes
what it writes for the embed case (verified byte-identical in the image spike):
  bios-grub-embed.py DISK CORE_IMG BOOT_IMG CORE_LBA
"""
import struct
import sys


def main() -> None:
    disk, core_path, boot_path, lba = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    with open(core_path, "rb") as f:
        core = bytearray(f.read())
    with open(boot_path, "rb") as f:
        boot = f.read()
    sectors = (len(core) + 511) // 512
    core += bytes(sectors * 512 - len(core))
    # diskboot.img blocklist at offset 500: start sector (u64), sector count (u16), load segment (u16)
    _, count, segment = struct.unpack_from("<QHH", core, 500)
    if count != sectors - 1 or segment != 0x820:
        sys.exit(f"unexpected core.img blocklist: count={count} segment={segment:#x}")
    struct.pack_into("<Q", core, 500, lba + 1)
    with open(disk, "r+b") as f:
        mbr = bytearray(f.read(512))
        new = bytearray(boot[:0x1B8]) + mbr[0x1B8:]  # keep the protective MBR partition table
        new[0x03:0x5A] = mbr[0x03:0x5A]  # BPB area as on disk
        struct.pack_into("<Q", new, 0x5C, lba)  # kernel sector
        new[0x64] = 0xFF  # boot drive: use the BIOS drive
        new[0x66:0x68] = b"\x90\x90"  # drive check jump -> nop nop
        f.seek(0)
        f.write(new)
        f.seek(lba * 512)
        f.write(core)


if __name__ == "__main__":
    main()
