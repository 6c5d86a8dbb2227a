//! Oracle cost-estimator wire types (`shapes.json`, `products.json`; only the fields the
//! adapter reads).

use serde::Deserialize;

/// `GET /shapes.json` → `{"items": [...]}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Shapes {
    pub items: Vec<Shape>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Shape {
    /// `VM.GPU.A10.1`, `BM.GPU4.8`, `BM.GPU.A100-v2.8`.
    pub name: String,
    pub hidden: bool,
    pub status: String,
    /// GB of memory the shape comes with.
    pub bundle_memory_qty: f64,
    #[serde(default)]
    pub gpu_qty: Option<u32>,
    /// GB of GPU memory over all GPUs.
    #[serde(default)]
    pub gpu_memory_qty: Option<f64>,
    pub processor_type: TypeField,
    pub sub_type: TypeField,
    pub products: Vec<ShapeProduct>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct TypeField {
    pub value: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ShapeProduct {
    pub part_number: String,
    pub qty: serde_json::Number,
    #[serde(rename = "type")]
    pub kind: TypeField,
}

/// `GET /products.json` → `{"items": [...]}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Products {
    pub items: Vec<Product>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Product {
    pub part_number: String,
    /// `UCM` (universal credits).
    pub billing_model: String,
    /// `HOUR`.
    #[serde(rename = "pricetype")]
    pub price_type: String,
    pub currency_code_localizations: Vec<Localization>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Localization {
    pub currency_code: String,
    pub prices: Vec<Price>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Price {
    /// `PAY_AS_YOU_GO`.
    pub model: String,
    pub value: serde_json::Number,
}
