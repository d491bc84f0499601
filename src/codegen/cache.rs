//! What a kernel leaves in the disk cache: the key (everything its machine code depends on)
//! and the entry (the code bytes, the helpers it calls by name, its relocations), encoded and
//! decoded with every field checked. The files themselves are `crate::cache`'s.

use cranelift_codegen::binemit::Reloc;
use cranelift_codegen::ir::LibCall;
use cranelift_codegen::isa::TargetIsa;
use cranelift_module::{FuncId, ModuleDeclarations, ModuleReloc, ModuleRelocTarget};

use super::helpers;
use crate::ir::Pipeline;

/// The entry format below; bump it with any change to `Entry::encode`.
const FORMAT: u32 = 1;

/// The parts of a key that are not the pipeline: which build of fastiter, for which machine.
/// Tests replace them to check that a change of any one is a miss.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyParts {
    /// `CARGO_PKG_VERSION`.
    pub version: String,
    /// A fingerprint of the compiler's sources (`build.rs`): two builds with one version
    /// number but different code generators never share kernels.
    pub build: String,
    /// The target triple.
    pub target: String,
    /// Cranelift's shared flags (optimisation level, verifier, ...) and the ISA's flags, the
    /// CPU features detected on this host (`has_avx2=1`, `has_fma=1`, ...).
    pub features: String,
}

impl KeyParts {
    /// The parts for kernels compiled by this build for `isa`.
    pub fn for_isa(isa: &dyn TargetIsa) -> KeyParts {
        let isa_flags: Vec<String> = isa.isa_flags().iter().map(|v| v.to_string()).collect();
        KeyParts {
            version: env!("CARGO_PKG_VERSION").to_string(),
            build: format!(
                "{} {}",
                env!("FASTITER_BUILD_ID"),
                if cfg!(debug_assertions) {
                    "debug"
                } else {
                    "release"
                }
            ),
            target: isa.triple().to_string(),
            features: format!(
                "{} {}",
                isa.flags().to_string().replace('\n', " "),
                isa_flags.join(" ")
            ),
        }
    }
}

/// The full key of `p`'s kernel. The pipeline is rendered with `Debug`, not the `--emit ir`
/// text: `Debug` is derived, so it shows every field codegen reads (types, builtin codes,
/// variable numbers), where a hand-written rendering could leave one out and let two different
/// kernels share a key.
pub fn key(parts: &KeyParts, p: &Pipeline) -> String {
    format!(
        "fastiter kernel cache, format {FORMAT}\nversion {}\nbuild {}\ntarget {}\nfeatures {}\npipeline {p:?}\n",
        parts.version, parts.build, parts.target, parts.features
    )
}

/// A compiled kernel as stored: code that is position independent except at `relocs`.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub alignment: u64,
    pub code: Vec<u8>,
    /// The helper functions the code calls, by name; a relocation names one by its index.
    pub imports: Vec<String>,
    pub relocs: Vec<Relocation>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Relocation {
    pub offset: u32,
    pub kind: Reloc,
    pub target: Target,
    pub addend: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `Entry::imports[i]`.
    Import(u32),
    /// A function Cranelift calls on its own (`floor` on a CPU without SSE4.1, ...).
    LibCall(LibCall),
    /// An offset into the kernel's own code.
    Kernel(u32),
}

/// The helpers a cached kernel may import: the JIT looks names up among the symbols
/// `helpers::register` defines, then in the process, and a name that resolves nowhere would
/// abort the process at finalisation.
const IMPORTS: [&str; 5] = [
    helpers::MATH1,
    helpers::FBIN,
    helpers::BUILTIN,
    fastiter_runtime::interrupt::POLL_SYMBOL,
    fastiter_runtime::interrupt::POLL_PRESERVING_SYMBOL,
];

/// The relocation kinds the JIT applies (and how many bytes each patches); a kernel with any
/// other kind is not cached.
const KINDS: [(Reloc, &str, usize); 5] = [
    (Reloc::Abs4, "Abs4", 4),
    (Reloc::Abs8, "Abs8", 8),
    (Reloc::X86PCRel4, "X86PCRel4", 4),
    (Reloc::X86CallPCRel4, "X86CallPCRel4", 4),
    (Reloc::Arm64Call, "Arm64Call", 4),
];

impl Entry {
    /// The entry for a function just defined as `kernel`, whose relocations are `relocs`
    /// (`ModuleReloc::from_mach_reloc` of the compiled buffer's). None when the kernel refers
    /// to anything a fresh module could not provide again (then it is simply not cached).
    pub fn capture(
        alignment: u64,
        code: &[u8],
        relocs: &[ModuleReloc],
        kernel: FuncId,
        decls: &ModuleDeclarations,
    ) -> Option<Entry> {
        let mut imports: Vec<String> = Vec::new();
        let mut out = Vec::with_capacity(relocs.len());
        for r in relocs {
            KINDS.iter().find(|k| k.0 == r.kind)?;
            let target = match r.name {
                ModuleRelocTarget::User {
                    namespace: 0,
                    index,
                } => {
                    let id = FuncId::from_u32(index);
                    let name = decls
                        .get_functions()
                        .find(|(f, _)| *f == id)
                        .and_then(|(_, d)| d.name.clone())?;
                    if !IMPORTS.contains(&name.as_str()) {
                        return None;
                    }
                    let i = match imports.iter().position(|n| *n == name) {
                        Some(i) => i,
                        None => {
                            imports.push(name);
                            imports.len() - 1
                        }
                    };
                    Target::Import(i as u32)
                }
                ModuleRelocTarget::LibCall(l) => Target::LibCall(l),
                ModuleRelocTarget::FunctionOffset(f, off) if f == kernel => Target::Kernel(off),
                _ => return None,
            };
            out.push(Relocation {
                offset: r.offset,
                kind: r.kind,
                target,
                addend: r.addend,
            });
        }
        let e = Entry {
            alignment,
            code: code.to_vec(),
            imports,
            relocs: out,
        };
        e.valid().then_some(e)
    }

    /// The relocations for a module in which `imports[i]` was declared as `ids[i]` and the
    /// kernel as `kernel`.
    pub fn module_relocs(&self, ids: &[FuncId], kernel: FuncId) -> Option<Vec<ModuleReloc>> {
        self.relocs
            .iter()
            .map(|r| {
                let name = match r.target {
                    Target::Import(i) => ModuleRelocTarget::from(*ids.get(i as usize)?),
                    Target::LibCall(l) => ModuleRelocTarget::LibCall(l),
                    Target::Kernel(off) => ModuleRelocTarget::FunctionOffset(kernel, off),
                };
                Some(ModuleReloc {
                    offset: r.offset,
                    kind: r.kind,
                    name,
                    addend: r.addend,
                })
            })
            .collect()
    }

    /// Everything the JIT will do with the entry stays inside its code: every relocation
    /// patches bytes within it, names an import that exists and is one of ours, or an offset
    /// inside the kernel.
    fn valid(&self) -> bool {
        let len = self.code.len();
        self.alignment.is_power_of_two()
            && self.alignment <= 4096
            && len > 0
            && len <= u32::MAX as usize
            && self.imports.iter().all(|n| IMPORTS.contains(&n.as_str()))
            && self.relocs.iter().all(|r| {
                let fits = KINDS.iter().find(|k| k.0 == r.kind).is_some_and(|k| {
                    (r.offset as usize)
                        .checked_add(k.2)
                        .is_some_and(|end| end <= len)
                });
                let target = match r.target {
                    Target::Import(i) => (i as usize) < self.imports.len(),
                    Target::LibCall(_) => true,
                    Target::Kernel(off) => (off as usize) < len,
                };
                fits && target
            })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Vec::with_capacity(self.code.len() + 32 * self.relocs.len() + 64);
        w.extend_from_slice(&self.alignment.to_le_bytes());
        put_bytes(&mut w, &self.code);
        w.extend_from_slice(&(self.imports.len() as u32).to_le_bytes());
        for name in &self.imports {
            put_bytes(&mut w, name.as_bytes());
        }
        w.extend_from_slice(&(self.relocs.len() as u32).to_le_bytes());
        for r in &self.relocs {
            w.extend_from_slice(&r.offset.to_le_bytes());
            let kind = KINDS.iter().find(|k| k.0 == r.kind).map_or("", |k| k.1);
            put_bytes(&mut w, kind.as_bytes());
            match r.target {
                Target::Import(i) => {
                    w.push(0);
                    w.extend_from_slice(&i.to_le_bytes());
                }
                Target::LibCall(l) => {
                    w.push(1);
                    put_bytes(&mut w, l.to_string().as_bytes());
                }
                Target::Kernel(off) => {
                    w.push(2);
                    w.extend_from_slice(&off.to_le_bytes());
                }
            }
            w.extend_from_slice(&r.addend.to_le_bytes());
        }
        w
    }

    /// The entry `encode` wrote, or None for anything else (including an entry that encodes
    /// fine but would patch outside its code).
    pub fn decode(bytes: &[u8]) -> Option<Entry> {
        let mut r = Reader(bytes);
        let alignment = r.u64()?;
        let code = r.bytes()?.to_vec();
        let imports = (0..r.u32()?)
            .map(|_| String::from_utf8(r.bytes()?.to_vec()).ok())
            .collect::<Option<Vec<_>>>()?;
        let relocs = (0..r.u32()?)
            .map(|_| {
                let offset = r.u32()?;
                let kind = r.bytes()?;
                let kind = KINDS.iter().find(|k| k.1.as_bytes() == kind)?.0;
                let target = match r.u8()? {
                    0 => Target::Import(r.u32()?),
                    1 => Target::LibCall(std::str::from_utf8(r.bytes()?).ok()?.parse().ok()?),
                    2 => Target::Kernel(r.u32()?),
                    _ => return None,
                };
                Some(Relocation {
                    offset,
                    kind,
                    target,
                    addend: r.u64()? as i64,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let e = Entry {
            alignment,
            code,
            imports,
            relocs,
        };
        (r.0.is_empty() && e.valid()).then_some(e)
    }
}

fn put_bytes(w: &mut Vec<u8>, b: &[u8]) {
    w.extend_from_slice(&(b.len() as u32).to_le_bytes());
    w.extend_from_slice(b);
}

/// A cursor whose every read fails, rather than panics, past the end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, tail) = self.0.split_at_checked(n)?;
        self.0 = tail;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry {
            alignment: 16,
            code: vec![0x90; 64],
            imports: vec![helpers::MATH1.to_string(), helpers::BUILTIN.to_string()],
            relocs: vec![
                Relocation {
                    offset: 8,
                    kind: Reloc::Abs8,
                    target: Target::Import(1),
                    addend: 0,
                },
                Relocation {
                    offset: 20,
                    kind: Reloc::Abs8,
                    target: Target::LibCall(LibCall::FloorF64),
                    addend: -4,
                },
                Relocation {
                    offset: 40,
                    kind: Reloc::X86PCRel4,
                    target: Target::Kernel(60),
                    addend: 0,
                },
            ],
        }
    }

    #[test]
    fn round_trips() {
        let e = entry();
        assert_eq!(Entry::decode(&e.encode()), Some(e));
    }

    #[test]
    fn refuses_what_would_patch_or_call_outside_the_code() {
        let check = |f: &dyn Fn(&mut Entry)| {
            let mut e = entry();
            f(&mut e);
            assert_eq!(Entry::decode(&e.encode()), None, "{e:?}");
        };
        check(&|e| e.relocs[0].offset = 57);
        check(&|e| e.relocs[0].offset = u32::MAX);
        check(&|e| e.relocs[0].target = Target::Import(2));
        check(&|e| e.relocs[2].target = Target::Kernel(64));
        check(&|e| e.imports[0] = "system".into());
        check(&|e| e.alignment = 24);
        check(&|e| e.code.clear());
    }

    #[test]
    fn refuses_every_truncation_and_trailing_bytes() {
        let b = entry().encode();
        for n in 0..b.len() {
            assert_eq!(Entry::decode(&b[..n]), None, "truncated to {n}");
        }
        let mut longer = b.clone();
        longer.push(0);
        assert_eq!(Entry::decode(&longer), None);
    }
}
