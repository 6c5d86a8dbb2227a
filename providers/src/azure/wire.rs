//! Azure Retail Prices API wire types (only the fields the adapter reads).

use serde::Deserialize;

/// One page: `{"BillingCurrency", "CustomerEntityId", "CustomerEntityType", "Items": [...],
/// "NextPageLink": "https://prices.azure.com/api/retail/prices?...&$skip=100" | null,
/// "Count"}`.
#[derive(Debug, Deserialize)]
pub(crate) struct PricesPage {
    #[serde(rename = "Items")]
    pub items: Vec<PriceItem>,
    #[serde(rename = "NextPageLink", default)]
    pub next_page_link: Option<String>,
}

/// One meter price.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PriceItem {
    pub currency_code: String,
    /// USD per unit of measure (`1 Hour`: per VM-hour).
    pub retail_price: serde_json::Number,
    pub arm_region_name: String,
    /// `NC24ads A100 v4`, `... Spot`, `... Low Priority`.
    pub meter_name: String,
    /// `Virtual Machines NCads A100 v4 Series` (`... Windows` for Windows licences).
    pub product_name: String,
    pub sku_name: String,
    pub unit_of_measure: String,
    /// `Consumption | Reservation | DevTestConsumption`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `Standard_NC24ads_A100_v4`.
    pub arm_sku_name: String,
}
