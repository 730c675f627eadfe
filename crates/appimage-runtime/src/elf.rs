//! Where the payload starts: the end of the runtime's own ELF file.
//!
//! An AppImage is `runtime ELF ++ squashfs`. The ELF headers do not record the file's length,
//! so the end is the furthest byte any header points at: the ELF header itself, the program and
//! section header tables, every segment's file image and every section's contents (`SHT_NOBITS`
//! sections such as `.bss` occupy no file bytes). The section header table is normally last, which
//! is what the standard runtime assumes; taking the maximum of everything also covers linkers that
//! place it elsewhere. `.ci/appimage.sh` checks `--appimage-offset` against the runtime's size.

use anyhow::{Context, Result, bail, ensure};
use std::io::{Read, Seek, SeekFrom};

const SHT_NOBITS: u64 = 8;
/// More section headers than this is not a runtime we built, whatever the file claims.
const MAX_SECTIONS: u64 = 1 << 16;

/// Reads unsigned fields of the file's class (32/64-bit) and byte order.
struct Fields {
    is64: bool,
    little: bool,
}

impl Fields {
    fn uint(&self, buf: &[u8], at: usize, len: usize) -> Result<u64> {
        let bytes = buf
            .get(at..at + len)
            .context("ELF structure is truncated")?;
        let fold = |acc: u64, b: &u8| (acc << 8) | u64::from(*b);
        Ok(if self.little {
            bytes.iter().rev().fold(0, fold)
        } else {
            bytes.iter().fold(0, fold)
        })
    }

    /// A word-sized field (`Elf32_Off`/`Elf64_Off` and friends) at the 32-bit or 64-bit offset.
    fn word(&self, buf: &[u8], at32: usize, at64: usize) -> Result<u64> {
        if self.is64 {
            self.uint(buf, at64, 8)
        } else {
            self.uint(buf, at32, 4)
        }
    }

    fn half(&self, buf: &[u8], at32: usize, at64: usize) -> Result<u64> {
        self.uint(buf, if self.is64 { at64 } else { at32 }, 2)
    }
}

/// Reads `len` bytes at `offset`, refusing (before allocating) anything past the end of the file.
fn read_at<R: Read + Seek>(r: &mut R, offset: u64, len: u64) -> Result<Vec<u8>> {
    let file_len = r.seek(SeekFrom::End(0))?;
    ensure!(
        end_of(offset, len)? <= file_len,
        "ELF file is truncated ({len} bytes at {offset}, file has {file_len})"
    );
    let len = usize::try_from(len).context("ELF table too large")?;
    let mut buf = vec![0; len];
    r.seek(SeekFrom::Start(offset))?;
    r.read_exact(&mut buf)
        .with_context(|| format!("ELF file is truncated (reading {len} bytes at {offset})"))?;
    Ok(buf)
}

fn end_of(offset: u64, size: u64) -> Result<u64> {
    offset.checked_add(size).context("ELF offsets overflow")
}

/// Byte offset right after the ELF image at the start of `r`.
pub fn payload_offset<R: Read + Seek>(r: &mut R) -> Result<u64> {
    let ident = read_at(r, 0, 16).context("not an ELF file")?;
    ensure!(ident.starts_with(b"\x7fELF"), "not an ELF file (bad magic)");
    let f = Fields {
        is64: match ident[4] {
            1 => false,
            2 => true,
            c => bail!("unknown ELF class {c}"),
        },
        little: match ident[5] {
            1 => true,
            2 => false,
            d => bail!("unknown ELF byte order {d}"),
        },
    };
    let eh = read_at(r, 0, if f.is64 { 64 } else { 52 })?;
    let ehsize = f.half(&eh, 0x28, 0x34)?;
    let (phoff, phentsize, phnum) = (
        f.word(&eh, 0x1c, 0x20)?,
        f.half(&eh, 0x2a, 0x36)?,
        f.half(&eh, 0x2c, 0x38)?,
    );
    let (shoff, shentsize, mut shnum) = (
        f.word(&eh, 0x20, 0x28)?,
        f.half(&eh, 0x2e, 0x3a)?,
        f.half(&eh, 0x30, 0x3c)?,
    );
    let mut end = ehsize.max(eh.len() as u64);

    if phnum > 0 {
        ensure!(
            phentsize >= if f.is64 { 56 } else { 32 },
            "bad program header size"
        );
        let table = read_at(r, phoff, phnum * phentsize)?;
        end = end.max(end_of(phoff, phnum * phentsize)?);
        for ph in table.chunks_exact(phentsize as usize) {
            let (offset, filesz) = (f.word(ph, 0x04, 0x08)?, f.word(ph, 0x10, 0x20)?);
            end = end.max(end_of(offset, filesz)?);
        }
    }
    if shoff > 0 {
        ensure!(
            shentsize >= if f.is64 { 64 } else { 40 },
            "bad section header size"
        );
        if shnum == 0 {
            // Extended numbering: the real count is in section 0's sh_size.
            shnum = f.word(&read_at(r, shoff, shentsize)?, 0x14, 0x20)?;
        }
        ensure!(shnum <= MAX_SECTIONS, "implausible section count {shnum}");
        let table = read_at(r, shoff, shnum * shentsize)?;
        end = end.max(end_of(shoff, shnum * shentsize)?);
        for sh in table.chunks_exact(shentsize as usize) {
            if f.uint(sh, 4, 4)? != SHT_NOBITS {
                end = end.max(end_of(f.word(sh, 0x10, 0x18)?, f.word(sh, 0x14, 0x20)?)?);
            }
        }
    }
    Ok(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A little-endian ELF64 with one segment and two sections (one NOBITS) and the section header
    /// table at `shoff`.
    fn elf64(shoff: u64, seg_end: u64, bss: (u64, u64)) -> Vec<u8> {
        let mut b = vec![0u8; 64];
        b[..6].copy_from_slice(b"\x7fELF\x02\x01");
        b[0x20..0x28].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        b[0x28..0x30].copy_from_slice(&shoff.to_le_bytes());
        b[0x34..0x36].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
        b[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        b[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes());
        b[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        b[0x3c..0x3e].copy_from_slice(&2u16.to_le_bytes());
        let mut ph = vec![0u8; 56];
        ph[0x20..0x28].copy_from_slice(&seg_end.to_le_bytes()); // p_offset 0, p_filesz
        b.extend(ph);
        b.resize(shoff as usize, 0xaa);
        let mut sh = vec![0u8; 128];
        sh[0x18..0x20].copy_from_slice(&200u64.to_le_bytes()); // section 0: PROGBITS 200..260
        sh[0x20..0x28].copy_from_slice(&60u64.to_le_bytes());
        sh[64 + 4..64 + 8].copy_from_slice(&(SHT_NOBITS as u32).to_le_bytes());
        sh[64 + 0x18..64 + 0x20].copy_from_slice(&bss.0.to_le_bytes());
        sh[64 + 0x20..64 + 0x28].copy_from_slice(&bss.1.to_le_bytes());
        b.extend(sh);
        b
    }

    #[test]
    fn offset_is_end_of_section_header_table() -> Result<()> {
        let mut elf = elf64(512, 300, (100, 1 << 20));
        let len = elf.len() as u64;
        assert_eq!(len, 512 + 128);
        elf.extend_from_slice(b"hsqs payload");
        assert_eq!(
            payload_offset(&mut Cursor::new(elf))?,
            len,
            "NOBITS must not count"
        );
        Ok(())
    }

    #[test]
    fn offset_covers_segments_past_the_section_headers() -> Result<()> {
        let mut elf = elf64(256, 1000, (0, 0));
        elf.resize(1000, 0);
        assert_eq!(payload_offset(&mut Cursor::new(elf))?, 1000);
        Ok(())
    }

    #[test]
    fn offset_of_a_real_binary_is_its_size() -> Result<()> {
        let exe = std::env::current_exe()?;
        let size = std::fs::metadata(&exe)?.len();
        assert_eq!(payload_offset(&mut std::fs::File::open(exe)?)?, size);
        Ok(())
    }

    #[test]
    fn garbage_and_truncation_are_errors() {
        assert!(payload_offset(&mut Cursor::new(b"hsqs".to_vec())).is_err());
        assert!(payload_offset(&mut Cursor::new(b"\x7fELF\x03\x01".to_vec())).is_err());
        let elf = elf64(512, 300, (0, 0));
        for cut in [10, 63, 100, 520] {
            let err = payload_offset(&mut Cursor::new(elf[..cut].to_vec()));
            assert!(err.is_err(), "cut at {cut} must fail");
        }
        let mut huge = elf64(512, 300, (0, 0));
        huge[0x28..0x30].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(payload_offset(&mut Cursor::new(huge)).is_err());
    }
}
