//! The platforms images are built for (`linux/amd64`, `linux/arm64`): the OCI architecture, the
//! Rust target triple, and the ELF machine a binary for it carries.

use std::fmt;

/// A platform ecomctl builds images for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Platform {
    Amd64,
    Arm64,
}

/// ELF `e_machine` values.
const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;

impl Platform {
    pub const ALL: [Platform; 2] = [Platform::Amd64, Platform::Arm64];

    /// The OCI `architecture` (and the Debian architecture: they agree for these two).
    pub fn arch(self) -> &'static str {
        match self {
            Platform::Amd64 => "amd64",
            Platform::Arm64 => "arm64",
        }
    }

    /// The OCI `variant` (`v8` for arm64, as Docker and the image-spec write it).
    pub fn variant(self) -> Option<&'static str> {
        match self {
            Platform::Amd64 => None,
            Platform::Arm64 => Some("v8"),
        }
    }

    /// The Rust target triple its binaries are built for.
    pub fn triple(self) -> &'static str {
        match self {
            Platform::Amd64 => "x86_64-unknown-linux-gnu",
            Platform::Arm64 => "aarch64-unknown-linux-gnu",
        }
    }

    fn elf_machine(self) -> u16 {
        match self {
            Platform::Amd64 => EM_X86_64,
            Platform::Arm64 => EM_AARCH64,
        }
    }

    /// This machine's platform, when it is one images are built for.
    pub fn host() -> Option<Platform> {
        match (std::env::consts::OS, std::env::consts::ARCH) {
            ("linux", "x86_64") => Some(Platform::Amd64),
            ("linux", "aarch64") => Some(Platform::Arm64),
            _ => None,
        }
    }

    /// `linux/amd64` or `linux/arm64` (`linux/arm64/v8` too, as Docker writes it).
    pub fn parse(s: &str) -> Result<Platform, String> {
        match s {
            "linux/amd64" => Ok(Platform::Amd64),
            "linux/arm64" | "linux/arm64/v8" => Ok(Platform::Arm64),
            _ => Err(format!(
                "{s:?}: images are built for linux/amd64 and linux/arm64"
            )),
        }
    }

    /// Why `binary` cannot run on this platform, or `None` when its ELF header says it can.
    pub fn refuses(self, binary: &[u8]) -> Option<String> {
        let Some(machine) = elf_machine(binary) else {
            return Some("it is not a 64-bit little-endian ELF executable".into());
        };
        (machine != self.elf_machine()).then(|| {
            format!(
                "it is built for {} (ELF machine {machine}), the image is {self}",
                machine_name(machine)
            )
        })
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "linux/{}", self.arch())
    }
}

/// The `e_machine` of a 64-bit little-endian ELF file.
fn elf_machine(bytes: &[u8]) -> Option<u16> {
    let header = bytes.get(..20)?;
    // Magic, ELFCLASS64, ELFDATA2LSB.
    if header[..4] != *b"\x7fELF" || header[4] != 2 || header[5] != 1 {
        return None;
    }
    Some(u16::from_le_bytes([header[18], header[19]]))
}

fn machine_name(machine: u16) -> String {
    match machine {
        EM_X86_64 => "x86-64 (linux/amd64)".into(),
        EM_AARCH64 => "AArch64 (linux/arm64)".into(),
        3 => "i386".into(),
        40 => "32-bit ARM".into(),
        243 => "RISC-V".into(),
        m => format!("machine {m}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elf(machine: u16) -> Vec<u8> {
        let mut b = b"\x7fELF\x02\x01\x01".to_vec();
        b.resize(18, 0);
        b.extend_from_slice(&machine.to_le_bytes());
        b.resize(64, 0);
        b
    }

    #[test]
    fn platforms_parse_and_binaries_are_checked_by_their_elf_machine() {
        assert_eq!(Platform::parse("linux/arm64"), Ok(Platform::Arm64));
        assert_eq!(
            Platform::parse("linux/amd64").unwrap().to_string(),
            "linux/amd64"
        );
        assert!(Platform::parse("windows/amd64").is_err());
        assert_eq!(Platform::Amd64.refuses(&elf(62)), None);
        assert_eq!(Platform::Arm64.refuses(&elf(183)), None);
        let why = Platform::Arm64.refuses(&elf(62)).unwrap();
        assert!(
            why.contains("x86-64") && why.contains("linux/arm64"),
            "{why}"
        );
        assert!(Platform::Amd64
            .refuses(b"#!/bin/sh\n")
            .unwrap()
            .contains("not a 64-bit"));
    }
}
