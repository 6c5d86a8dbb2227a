//! The canonical GPU catalogue: one entry per model with vendor, memory and performance,
//! and the mapping from provider spellings to canonical names.
//!
//! Figures are per GPU, from the vendors' public datasheets and architecture whitepapers:
//! - `memory_gib` is the nominal datasheet size (`80 GB` read as 80 GiB, as the provider
//!   catalogues themselves do). Multi-GPU boards (K80, M60) count one GPU, as clouds expose
//!   them.
//! - `fp16_tflops` is dense (no 2:4 sparsity) FP16/BF16 tensor-core throughput. Data-centre
//!   and professional parts use FP32 accumulate; GeForce parts use the whitepaper's FP16
//!   accumulate figure. GPUs without tensor cores (Pascal, Kepler, Maxwell, AMD) give their
//!   plain vector FP16 rate (Kepler and Maxwell have no fast FP16, so the FP32 rate).
//! - `fp32_tflops` is non-tensor vector FP32 at boost clock.
//! - `interconnect` names the GPU-to-GPU / host link of the form factor listed.
//!
//! Names are stable identifiers (`A100-80GB-SXM`, `H100-PCIe`, `RTX4090`); provider
//! spellings go through [`canonical`], which never guesses: an unknown spelling is `None`.

use serde::Serialize;

/// Physical form of the GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FormFactor {
    Sxm,
    Pcie,
}

/// One canonical GPU model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GpuModel {
    pub name: &'static str,
    pub vendor: &'static str,
    pub memory_gib: f64,
    pub form_factor: FormFactor,
    /// Dense FP16/BF16 tensor TFLOPS.
    pub fp16_tflops: f64,
    pub fp32_tflops: f64,
    pub interconnect: &'static str,
}

const NVIDIA: &str = "NVIDIA";
const AMD: &str = "AMD";

const fn gpu(
    name: &'static str,
    vendor: &'static str,
    memory_gib: f64,
    form_factor: FormFactor,
    fp16_tflops: f64,
    fp32_tflops: f64,
    interconnect: &'static str,
) -> GpuModel {
    GpuModel {
        name,
        vendor,
        memory_gib,
        form_factor,
        fp16_tflops,
        fp32_tflops,
        interconnect,
    }
}

use FormFactor::{Pcie, Sxm};

static CATALOGUE: &[GpuModel] = &[
    // Data-centre, NVIDIA Blackwell / Hopper / Ampere.
    gpu(
        "B300",
        NVIDIA,
        288.0,
        Sxm,
        2250.0,
        75.0,
        "NVLink 5 (1.8 TB/s)",
    ),
    gpu(
        "B200",
        NVIDIA,
        180.0,
        Sxm,
        2250.0,
        75.0,
        "NVLink 5 (1.8 TB/s)",
    ),
    gpu(
        "GH200",
        NVIDIA,
        96.0,
        Sxm,
        989.0,
        67.0,
        "NVLink-C2C (900 GB/s)",
    ),
    gpu(
        "H200",
        NVIDIA,
        141.0,
        Sxm,
        989.0,
        67.0,
        "NVLink 4 (900 GB/s)",
    ),
    gpu(
        "H100-SXM",
        NVIDIA,
        80.0,
        Sxm,
        989.0,
        67.0,
        "NVLink 4 (900 GB/s)",
    ),
    gpu(
        "H100-NVL",
        NVIDIA,
        94.0,
        Pcie,
        835.0,
        60.0,
        "PCIe 5.0, NVLink bridge (600 GB/s)",
    ),
    gpu(
        "H100-PCIe",
        NVIDIA,
        80.0,
        Pcie,
        756.0,
        51.0,
        "PCIe 5.0, NVLink bridge (600 GB/s)",
    ),
    gpu(
        "A100-80GB-SXM",
        NVIDIA,
        80.0,
        Sxm,
        312.0,
        19.5,
        "NVLink 3 (600 GB/s)",
    ),
    gpu(
        "A100-80GB-PCIe",
        NVIDIA,
        80.0,
        Pcie,
        312.0,
        19.5,
        "PCIe 4.0, NVLink bridge (600 GB/s)",
    ),
    gpu(
        "A100-40GB-SXM",
        NVIDIA,
        40.0,
        Sxm,
        312.0,
        19.5,
        "NVLink 3 (600 GB/s)",
    ),
    gpu(
        "A100-40GB-PCIe",
        NVIDIA,
        40.0,
        Pcie,
        312.0,
        19.5,
        "PCIe 4.0, NVLink bridge (600 GB/s)",
    ),
    gpu(
        "A40",
        NVIDIA,
        48.0,
        Pcie,
        149.7,
        37.4,
        "PCIe 4.0, NVLink bridge (112.5 GB/s)",
    ),
    gpu(
        "A30",
        NVIDIA,
        24.0,
        Pcie,
        165.0,
        10.3,
        "PCIe 4.0, NVLink bridge (200 GB/s)",
    ),
    gpu("A10", NVIDIA, 24.0, Pcie, 125.0, 31.2, "PCIe 4.0"),
    gpu("A10G", NVIDIA, 24.0, Pcie, 70.0, 31.2, "PCIe 4.0"),
    // Data-centre, NVIDIA Ada / Turing.
    gpu("L40S", NVIDIA, 48.0, Pcie, 362.1, 91.6, "PCIe 4.0"),
    gpu("L40", NVIDIA, 48.0, Pcie, 181.0, 90.5, "PCIe 4.0"),
    gpu("L4", NVIDIA, 24.0, Pcie, 121.0, 30.3, "PCIe 4.0"),
    gpu("T4", NVIDIA, 16.0, Pcie, 65.0, 8.1, "PCIe 3.0"),
    gpu("T4G", NVIDIA, 16.0, Pcie, 65.0, 8.1, "PCIe 3.0"),
    // Data-centre, NVIDIA Volta / Pascal / Maxwell / Kepler.
    gpu(
        "V100-32GB",
        NVIDIA,
        32.0,
        Sxm,
        125.0,
        15.7,
        "NVLink 2 (300 GB/s)",
    ),
    gpu(
        "V100-16GB",
        NVIDIA,
        16.0,
        Sxm,
        125.0,
        15.7,
        "NVLink 2 (300 GB/s)",
    ),
    gpu("P100", NVIDIA, 16.0, Pcie, 18.7, 9.3, "PCIe 3.0"),
    gpu("P40", NVIDIA, 24.0, Pcie, 0.18, 11.8, "PCIe 3.0"),
    gpu("P4", NVIDIA, 8.0, Pcie, 0.09, 5.5, "PCIe 3.0"),
    gpu("M60", NVIDIA, 8.0, Pcie, 4.8, 4.8, "PCIe 3.0"),
    gpu("K80", NVIDIA, 12.0, Pcie, 4.4, 4.4, "PCIe 3.0"),
    // Professional (workstation / server) cards.
    gpu("RTXPRO6000", NVIDIA, 96.0, Pcie, 500.0, 125.0, "PCIe 5.0"),
    gpu("RTX6000-Ada", NVIDIA, 48.0, Pcie, 364.2, 91.1, "PCIe 4.0"),
    gpu("RTX5000-Ada", NVIDIA, 32.0, Pcie, 261.0, 65.3, "PCIe 4.0"),
    gpu("RTX4000-Ada", NVIDIA, 20.0, Pcie, 106.9, 26.7, "PCIe 4.0"),
    gpu(
        "RTXA6000",
        NVIDIA,
        48.0,
        Pcie,
        154.8,
        38.7,
        "PCIe 4.0, NVLink bridge (112.5 GB/s)",
    ),
    gpu(
        "RTXA5000",
        NVIDIA,
        24.0,
        Pcie,
        111.1,
        27.8,
        "PCIe 4.0, NVLink bridge (112.5 GB/s)",
    ),
    gpu(
        "RTXA4500",
        NVIDIA,
        20.0,
        Pcie,
        94.6,
        23.7,
        "PCIe 4.0, NVLink bridge (112.5 GB/s)",
    ),
    gpu("RTXA4000", NVIDIA, 16.0, Pcie, 76.7, 19.2, "PCIe 4.0"),
    gpu("RTXA2000", NVIDIA, 6.0, Pcie, 63.9, 8.0, "PCIe 4.0"),
    gpu(
        "QuadroRTX6000",
        NVIDIA,
        24.0,
        Pcie,
        130.5,
        16.3,
        "PCIe 3.0, NVLink bridge (100 GB/s)",
    ),
    gpu(
        "QuadroRTX5000",
        NVIDIA,
        16.0,
        Pcie,
        89.2,
        11.2,
        "PCIe 3.0, NVLink bridge (50 GB/s)",
    ),
    gpu("QuadroRTX4000", NVIDIA, 8.0, Pcie, 57.0, 7.1, "PCIe 3.0"),
    // GeForce.
    gpu("RTX5090", NVIDIA, 32.0, Pcie, 419.0, 104.8, "PCIe 5.0"),
    gpu("RTX4090", NVIDIA, 24.0, Pcie, 330.3, 82.6, "PCIe 4.0"),
    gpu(
        "RTX4070TiSuper",
        NVIDIA,
        16.0,
        Pcie,
        176.4,
        44.1,
        "PCIe 4.0",
    ),
    gpu("RTX4070", NVIDIA, 12.0, Pcie, 116.8, 29.1, "PCIe 4.0"),
    gpu("RTX4060Ti", NVIDIA, 16.0, Pcie, 88.4, 22.1, "PCIe 4.0"),
    gpu("RTX4060", NVIDIA, 8.0, Pcie, 60.5, 15.1, "PCIe 4.0"),
    gpu(
        "RTX3090",
        NVIDIA,
        24.0,
        Pcie,
        142.0,
        35.6,
        "PCIe 4.0, NVLink bridge (112.5 GB/s)",
    ),
    gpu("RTX3080", NVIDIA, 10.0, Pcie, 119.0, 29.8, "PCIe 4.0"),
    gpu("RTX3070", NVIDIA, 8.0, Pcie, 81.3, 20.3, "PCIe 4.0"),
    gpu("RTX3060", NVIDIA, 12.0, Pcie, 51.2, 12.7, "PCIe 4.0"),
    // AMD.
    gpu(
        "MI300X",
        AMD,
        192.0,
        Sxm,
        1307.4,
        163.4,
        "Infinity Fabric (896 GB/s)",
    ),
    gpu("MI25", AMD, 16.0, Pcie, 24.6, 12.3, "PCIe 3.0"),
    gpu("RadeonProV520", AMD, 8.0, Pcie, 14.7, 7.4, "PCIe 4.0"),
];

/// Every model the broker knows.
pub fn catalogue() -> &'static [GpuModel] {
    CATALOGUE
}

/// The model with this canonical name (ASCII case-insensitive), if catalogued.
pub fn by_name(name: &str) -> Option<&'static GpuModel> {
    CATALOGUE.iter().find(|m| m.name.eq_ignore_ascii_case(name))
}

/// The canonical model for a provider's GPU name (and per-GPU memory when it disambiguates).
///
/// Case and separators do not matter (`RTX-A4000`, `RTX A4000`, `rtxa4000`); a memory size
/// in the name (`A100-80GB`, `RTX PRO 6000 96GB`) counts when `memory_gib` is `None`. When
/// a name does not say SXM or PCIe, A100/H100 map to the SXM variant, the form most clouds
/// sell (use [`canonical_with_hint`] to read the form from an instance type). Unknown or
/// ambiguous names (`RTX6000` with no memory: Quadro or Ada?) return `None`.
pub fn canonical(raw: &str, memory_gib: Option<f64>) -> Option<&'static GpuModel> {
    let name = Spelling::parse(raw).resolve(memory_gib)?;
    by_name(name)
}

/// Like [`canonical`], but reads the form factor (`pcie`, `sxm4`, `nvl`) from `hint`
/// (typically the provider's instance type, e.g. `gpu_1x_h100_pcie`) when the GPU name
/// itself does not state one.
pub fn canonical_with_hint(
    raw: &str,
    memory_gib: Option<f64>,
    hint: &str,
) -> Option<&'static GpuModel> {
    let mut spelling = Spelling::parse(raw);
    if spelling.form.is_none() && !spelling.nvl {
        let hinted = Spelling::parse(hint);
        spelling.form = hinted.form;
        spelling.nvl = hinted.nvl;
    }
    by_name(spelling.resolve(memory_gib)?)
}

/// A provider spelling broken into a family key and the qualifiers that pick a variant.
#[derive(Debug, Default)]
struct Spelling {
    /// Lower-case alphanumerics of the family, e.g. `a100`, `rtxa4000`, `rtxpro6000`.
    key: String,
    memory_gib: Option<f64>,
    form: Option<FormFactor>,
    nvl: bool,
    ada: bool,
    quadro: bool,
}

impl Spelling {
    fn parse(raw: &str) -> Self {
        let mut s = Spelling::default();
        let lower = raw.to_ascii_lowercase();
        for token in lower.split(|c: char| !c.is_ascii_alphanumeric()) {
            match token {
                "" | "nvidia" | "tesla" | "geforce" | "amd" | "gpu" | "nvlink" | "generation"
                | "gen" | "edition" | "workstation" | "server" | "blackwell" | "maxq" | "hbm3"
                | "hbm3e" | "hbm2" | "hbm2e" => {}
                "quadro" => s.quadro = true,
                "ada" | "lovelace" => s.ada = true,
                "sxm" | "sxm2" | "sxm3" | "sxm4" | "sxm5" | "sxm6" | "hgx" => {
                    s.form = Some(FormFactor::Sxm)
                }
                "pcie" | "pci" => s.form = Some(FormFactor::Pcie),
                "nvl" => s.nvl = true,
                t => match memory_token(t) {
                    Some(gib) => s.memory_gib = Some(gib),
                    None => s.key.push_str(glued_brand(t)),
                },
            }
        }
        if s.key.len() > 3 {
            if let Some(stripped) = s.key.strip_suffix("ada") {
                s.key = stripped.to_string();
                s.ada = true;
            }
        }
        s
    }

    /// The canonical name, or `None` when the family is unknown or the variant ambiguous.
    fn resolve(&self, memory_gib: Option<f64>) -> Option<&'static str> {
        let mem = memory_gib.or(self.memory_gib);
        let sxm_unless_pcie = |sxm: &'static str, pcie: &'static str| match self.form {
            Some(FormFactor::Pcie) => pcie,
            _ => sxm,
        };
        let name = match self.key.as_str() {
            "b300" => "B300",
            "b200" => "B200",
            "gh200" => "GH200",
            "h200" => "H200",
            "h100" => match mem {
                Some(m) if m > 100.0 => return None,
                Some(m) if m >= 88.0 => "H100-NVL",
                _ if self.nvl => "H100-NVL",
                _ => sxm_unless_pcie("H100-SXM", "H100-PCIe"),
            },
            "a100" => match mem {
                Some(m) if m >= 60.0 => sxm_unless_pcie("A100-80GB-SXM", "A100-80GB-PCIe"),
                _ => sxm_unless_pcie("A100-40GB-SXM", "A100-40GB-PCIe"),
            },
            "a40" => "A40",
            "a30" => "A30",
            "a10" => "A10",
            "a10g" => "A10G",
            "l40s" => "L40S",
            "l40" => "L40",
            "l4" => "L4",
            "t4" => "T4",
            "t4g" => "T4G",
            "v100" => match mem {
                Some(m) if m >= 24.0 => "V100-32GB",
                _ => "V100-16GB",
            },
            "p100" => "P100",
            "p40" => "P40",
            "p4" => "P4",
            "m60" => "M60",
            "k80" => "K80",
            "rtxpro6000" | "rtxpro6000s" | "pro6000" => "RTXPRO6000",
            "rtx6000" | "quadrortx6000" => {
                self.pro_or_ada(mem, 30.0, "QuadroRTX6000", "RTX6000-Ada")?
            }
            "rtx5000" | "quadrortx5000" => {
                self.pro_or_ada(mem, 24.0, "QuadroRTX5000", "RTX5000-Ada")?
            }
            "rtx4000" | "quadrortx4000" => {
                self.pro_or_ada(mem, 12.0, "QuadroRTX4000", "RTX4000-Ada")?
            }
            "rtxa6000" | "a6000" => "RTXA6000",
            "rtxa5000" | "a5000" => "RTXA5000",
            "rtxa4500" | "a4500" => "RTXA4500",
            "rtxa4000" | "a4000" => "RTXA4000",
            "rtxa2000" | "a2000" => "RTXA2000",
            "rtx5090" => "RTX5090",
            "rtx4090" => "RTX4090",
            "rtx4070tisuper" => "RTX4070TiSuper",
            "rtx4070" => match mem {
                Some(m) if m > 13.0 => "RTX4070TiSuper",
                _ => "RTX4070",
            },
            "rtx4060ti" => "RTX4060Ti",
            "rtx4060" => match mem {
                Some(m) if m > 9.0 => "RTX4060Ti",
                _ => "RTX4060",
            },
            "rtx3090" => "RTX3090",
            "rtx3080" => "RTX3080",
            "rtx3070" => "RTX3070",
            "rtx3060" => "RTX3060",
            "mi300x" | "instinctmi300x" => "MI300X",
            "mi25" | "radeonmi25" | "instinctmi25" | "radeoninstinctmi25" => "MI25",
            "v520" | "radeonprov520" => "RadeonProV520",
            _ => return None,
        };
        Some(name)
    }

    /// Turing Quadro vs Ada for the `RTX N000` names NVIDIA reused: the qualifier decides,
    /// else the memory (Quadro up to `quadro_max_gib`); no qualifier and no memory is ambiguous.
    fn pro_or_ada(
        &self,
        mem: Option<f64>,
        quadro_max_gib: f64,
        quadro: &'static str,
        ada: &'static str,
    ) -> Option<&'static str> {
        if self.ada {
            return Some(ada);
        }
        if self.quadro || self.key.starts_with("quadro") {
            return Some(quadro);
        }
        match mem {
            Some(m) if m <= quadro_max_gib => Some(quadro),
            Some(_) => Some(ada),
            None => None,
        }
    }
}

/// `80gb`, `80g`, `96gib`, `80` is not: a memory size token, in GiB.
/// A token with the brand glued to the model (TensorDock's `geforcertx4090`,
/// `teslav100`), without the brand.
fn glued_brand(token: &str) -> &str {
    token
        .strip_prefix("geforce")
        .or_else(|| token.strip_prefix("tesla"))
        .filter(|rest| !rest.is_empty())
        .unwrap_or(token)
}

fn memory_token(token: &str) -> Option<f64> {
    let digits = token
        .strip_suffix("gib")
        .or_else(|| token.strip_suffix("gb"))
        .or_else(|| token.strip_suffix('g'))?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every distinct `(gpu_model, gpu_memory_gib)` pair of the seed catalogue
    /// (`sandbox/data/gpu-offers.csv`, 58 spellings).
    const CATALOG_SPELLINGS: &[(&str, Option<f64>)] = &[
        ("A10", None),
        ("A10", Some(24.0)),
        ("A100", None),
        ("A100", Some(40.0)),
        ("A100", Some(80.0)),
        ("A100-80G-PCIe", Some(80.0)),
        ("A100-80G-PCIe-NVLink", Some(80.0)),
        ("A100-80GB", Some(79.3467)),
        ("A100-80GB", Some(80.0)),
        ("A100-80GB-SXM", Some(80.0)),
        ("A10G", Some(24.0)),
        ("A30", Some(24.0)),
        ("A40", None),
        ("A40", Some(44.9883)),
        ("A40", Some(48.0)),
        ("A6000", Some(48.0)),
        ("B200", Some(179.0615)),
        ("B200", Some(180.0)),
        ("B300", Some(262.0)),
        ("B300", Some(262.5)),
        ("H100", None),
        ("H100", Some(79.6475)),
        ("H100", Some(80.0)),
        ("H100", Some(93.584)),
        ("H100-80G-PCIe", Some(80.0)),
        ("H100-80G-PCIe-NVLink", Some(80.0)),
        ("H100-80G-SXM5", Some(80.0)),
        ("H100-SXM", None),
        ("H200", Some(140.4014)),
        ("H200", Some(141.0)),
        ("K80", None),
        ("K80", Some(12.0)),
        ("L4", None),
        ("L4", Some(178.8135)),
        ("L4", Some(22.3516)),
        ("L4", Some(24.0)),
        ("L4", Some(89.4072)),
        ("L40", None),
        ("L40", Some(48.0)),
        ("L40S", Some(44.9883)),
        ("L40S", Some(48.0)),
        ("M60", None),
        ("M60", Some(8.0)),
        ("P100", None),
        ("P100", Some(16.0)),
        ("P4", Some(8.0)),
        ("P40", None),
        ("RTX 3070", Some(8.0)),
        ("RTX PRO 6000 96GB", Some(96.0)),
        ("RTX-6000-Ada", Some(48.0)),
        ("RTX-A4000", Some(16.0)),
        ("RTX-A6000", Some(48.0)),
        ("RTX-PRO-6000", Some(96.0)),
        ("RTX3060", Some(12.0)),
        ("RTX3060", Some(8.0)),
        ("RTX3070", Some(8.0)),
        ("RTX3080", Some(10.0)),
        ("RTX3080", Some(12.0)),
        ("RTX3090", None),
        ("RTX3090", Some(24.0)),
        ("RTX4000", Some(8.0)),
        ("RTX4000-Ada", None),
        ("RTX4060", Some(15.9961)),
        ("RTX4070", Some(15.9922)),
        ("RTX4090", None),
        ("RTX4090", Some(23.9883)),
        ("RTX4090", Some(47.9883)),
        ("RTX5000", Some(16.0)),
        ("RTX5090", Some(31.8428)),
        ("RTX6000", Some(24.0)),
        ("RTX6000-Ada", None),
        ("RTX6000-Ada", Some(47.9883)),
        ("RTXA2000", Some(5.9941)),
        ("RTXA4000", None),
        ("RTXA4000", Some(16.0)),
        ("RTXA4500", None),
        ("RTXA4500", Some(20.0)),
        ("RTXA5000", None),
        ("RTXA5000", Some(24.0)),
        ("RTXA6000", None),
        ("RTXA6000", Some(47.25)),
        ("RTXA6000", Some(47.9883)),
        ("RTXA6000", Some(48.0)),
        ("RTXPRO6000", Some(96.0)),
        ("RTXPRO6000S", Some(95.5928)),
        ("Radeon MI25", None),
        ("Radeon Pro V520", Some(8.0)),
        ("T4", None),
        ("T4", Some(16.0)),
        ("T4g", Some(16.0)),
        ("V100", None),
        ("V100", Some(16.0)),
        ("V100-32GB", Some(31.748)),
        ("V100-32GB", Some(32.0)),
    ];

    #[test]
    fn every_spelling_in_the_seed_catalogue_maps_to_a_model() {
        let unknown: Vec<_> = CATALOG_SPELLINGS
            .iter()
            .filter(|(raw, mem)| canonical(raw, *mem).is_none())
            .collect();
        assert!(unknown.is_empty(), "unmapped: {unknown:?}");
    }

    #[test]
    fn provider_spellings_map_to_the_expected_canonical_names() {
        let cases: &[(&str, Option<f64>, &str)] = &[
            ("A100", Some(40.0), "A100-40GB-SXM"),
            ("A100", None, "A100-40GB-SXM"),
            ("A100", Some(80.0), "A100-80GB-SXM"),
            ("A100-80GB", Some(79.3467), "A100-80GB-SXM"),
            ("A100-80GB", None, "A100-80GB-SXM"),
            ("A100-80G-PCIe", Some(80.0), "A100-80GB-PCIe"),
            ("A100-80G-PCIe-NVLink", None, "A100-80GB-PCIe"),
            ("A100-80GB-SXM", None, "A100-80GB-SXM"),
            ("H100", Some(79.6475), "H100-SXM"),
            ("H100", Some(93.584), "H100-NVL"),
            ("H100-SXM", None, "H100-SXM"),
            ("H100-80G-SXM5", Some(80.0), "H100-SXM"),
            ("H100-80G-PCIe", Some(80.0), "H100-PCIe"),
            ("H100-80G-PCIe-NVLink", Some(80.0), "H100-PCIe"),
            ("NVIDIA H100 NVL", None, "H100-NVL"),
            ("H200", Some(140.4014), "H200"),
            ("B200", Some(179.0615), "B200"),
            ("B300", Some(262.5), "B300"),
            ("RTX PRO 6000 96GB", None, "RTXPRO6000"),
            ("RTX-PRO-6000", Some(96.0), "RTXPRO6000"),
            ("RTXPRO6000", Some(96.0), "RTXPRO6000"),
            ("RTXPRO6000S", Some(95.5928), "RTXPRO6000"),
            ("RTX-A4000", Some(16.0), "RTXA4000"),
            ("RTXA4000", None, "RTXA4000"),
            ("A6000", Some(48.0), "RTXA6000"),
            ("RTX-A6000", Some(48.0), "RTXA6000"),
            ("RTX 3070", Some(8.0), "RTX3070"),
            ("RTX3060", Some(8.0), "RTX3060"),
            ("RTX4060", Some(15.9961), "RTX4060Ti"),
            ("RTX4070", Some(15.9922), "RTX4070TiSuper"),
            ("RTX4090", None, "RTX4090"),
            ("RTX6000", Some(24.0), "QuadroRTX6000"),
            ("RTX6000-Ada", None, "RTX6000-Ada"),
            ("RTX-6000-Ada", Some(48.0), "RTX6000-Ada"),
            ("RTX4000-Ada", None, "RTX4000-Ada"),
            ("RTX4000", Some(8.0), "QuadroRTX4000"),
            ("RTX5000", Some(16.0), "QuadroRTX5000"),
            ("T4", Some(16.0), "T4"),
            ("T4g", Some(16.0), "T4G"),
            ("A10G", Some(24.0), "A10G"),
            ("V100", None, "V100-16GB"),
            ("V100", Some(16.0), "V100-16GB"),
            ("V100-32GB", Some(31.748), "V100-32GB"),
            ("Radeon Pro V520", Some(8.0), "RadeonProV520"),
            ("Radeon MI25", None, "MI25"),
            ("L40S", Some(44.9883), "L40S"),
            // Recorded spellings of the adapters added later (see providers/fixtures/).
            ("geforcertx4090-pcie-24gb", None, "RTX4090"),
            ("teslav100-pcie-16gb", None, "V100-16GB"),
            ("l40-pcie-48gb", None, "L40"),
            ("NVIDIA_A100", Some(80.0), "A100-80GB-SXM"),
            ("NVIDIA A100 80GB PCIe", None, "A100-80GB-PCIe"),
            ("NVIDIA L40s 48GB", None, "L40S"),
        ];
        for (raw, mem, want) in cases {
            let got = canonical(raw, *mem).map(|m| m.name);
            assert_eq!(got, Some(*want), "{raw} {mem:?}");
        }
    }

    #[test]
    fn unknown_or_ambiguous_names_map_to_none() {
        for (raw, mem) in [
            ("Gaudi2", None),
            ("TPU-v4", None),
            ("", None),
            ("X100", Some(80.0)),
            ("RTX6000", None),
            ("H100", Some(141.0)),
        ] {
            assert_eq!(canonical(raw, mem), None, "{raw} {mem:?}");
        }
    }

    #[test]
    fn an_instance_type_hint_picks_the_form_factor_the_name_leaves_open() {
        let pcie = canonical_with_hint("H100", Some(80.0), "gpu_1x_h100_pcie").map(|m| m.name);
        assert_eq!(pcie, Some("H100-PCIe"));
        let a100 = canonical_with_hint("A100", Some(80.0), "1x-A100_PCIE-32-65536").map(|m| m.name);
        assert_eq!(a100, Some("A100-80GB-PCIe"));
        let explicit = canonical_with_hint("H100-SXM", None, "x_pcie").map(|m| m.name);
        assert_eq!(explicit, Some("H100-SXM"));
    }

    #[test]
    fn catalogue_names_are_unique_and_self_canonical() {
        let mut names: Vec<_> = catalogue().iter().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), catalogue().len());
        for m in catalogue() {
            assert!(m.memory_gib > 0.0 && m.fp32_tflops > 0.0 && m.fp16_tflops > 0.0);
            assert_eq!(by_name(m.name).map(|g| g.name), Some(m.name));
            assert_eq!(
                canonical(m.name, Some(m.memory_gib)).map(|g| g.name),
                Some(m.name),
                "{}",
                m.name
            );
        }
        assert!(by_name("no-such-gpu").is_none());
    }
}
