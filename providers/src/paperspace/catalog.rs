//! Paperspace has no price or availability API: offers come from this dated catalogue.
//!
//! Source: the SkyPilot catalog, `catalogs/v5/paperspace/vms.csv` at commit
//! `c75e2c0590ebe8d6de37496522313a445a6b6f4a` (2024-04-23), compiled by SkyPilot from
//! Paperspace's public pricing page — the same rows as the sandbox seed
//! (`sandbox/data/gpu-offers.csv`). Prices are USD per machine-hour. Offers built from it
//! say `source = catalog` and carry [`AS_OF`] as their date; they are never refreshed from
//! the network.

/// The date the catalogue's prices were taken (2024-04-23T00:00:00Z).
pub const AS_OF: i64 = 1_713_830_400;

/// One machine type as sold in one region.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CatalogRow {
    pub machine_type: &'static str,
    /// The GPU spelling of the source.
    pub gpu: &'static str,
    pub gpu_count: u32,
    /// Per GPU, GiB, when the source states it.
    pub gpu_memory_gib: Option<f64>,
    pub vcpus: u32,
    pub memory_gib: f64,
    pub region: &'static str,
    /// USD per machine-hour, decimal text.
    pub price: &'static str,
}

const fn row(
    machine_type: &'static str,
    gpu: &'static str,
    gpu_count: u32,
    gpu_memory_gib: Option<f64>,
    vcpus: u32,
    memory_gib: f64,
    price: &'static str,
) -> CatalogRow {
    CatalogRow {
        machine_type,
        gpu,
        gpu_count,
        gpu_memory_gib,
        vcpus,
        memory_gib,
        region: "East Coast (NY2)",
        price,
    }
}

/// The catalogue.
pub static ROWS: &[CatalogRow] = &[
    row("A100-80G", "A100-80GB", 1, Some(80.0), 12, 80.0, "3.18"),
    row("A100-80Gx2", "A100-80GB", 2, Some(80.0), 24, 160.0, "6.36"),
    row("A100-80Gx4", "A100-80GB", 4, Some(80.0), 46, 320.0, "12.72"),
    row("A100-80Gx8", "A100-80GB", 8, Some(80.0), 96, 640.0, "25.44"),
    row("H100", "H100", 1, None, 15, 80.0, "5.95"),
    row("H100x8", "H100", 8, None, 128, 640.0, "47.6"),
    row("V100", "V100", 1, None, 8, 32.0, "2.29"),
    row("V100-32G", "V100-32GB", 1, Some(32.0), 8, 32.0, "2.3"),
    row("V100-32Gx2", "V100-32GB", 2, Some(32.0), 16, 64.0, "4.6"),
    row("V100-32Gx4", "V100-32GB", 4, Some(32.0), 32, 128.0, "9.2"),
];
