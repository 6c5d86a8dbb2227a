//! Where a provider's region is: ISO 3166-1 alpha-2 country codes for region identifiers.
//!
//! Best effort: a table per provider for the codes we have seen (AWS, GCP, Azure, OCI, IBM,
//! OVHcloud, DigitalOcean, ...) plus rules for the providers whose region names carry the
//! country (`us-*`, RunPod's `CA`, Cudo's `se-stockholm-1`, Vast's `Texas, US, NA`).
//! Unknown regions are `None`; nothing is guessed from a continent.

/// The ISO alpha-2 country of `region` at `provider` (a provider key such as `aws`), if known.
pub fn country_of(provider: &str, region: &str) -> Option<&'static str> {
    let region = region.trim();
    if region.is_empty() {
        return None;
    }
    let lower = region.to_ascii_lowercase();
    let r = lower.as_str();
    match provider.to_ascii_lowercase().as_str() {
        "aws" => aws(r),
        "gcp" | "nebius" | "mithril" => gcp(strip_zone(r)),
        "azure" => azure(r),
        "oci" => city_coded(r),
        "lambda" => lambda(r),
        "ibm" => ibm(r),
        "ovhcloud" | "ovh" => ovh(r),
        "do" | "digitalocean" => digitalocean(r),
        "fluidstack" | "hyperstack" | "scp" | "verda" | "datacrunch" | "paperspace" => {
            by_country_word(r)
        }
        // `City, ST, Country` (`Ashburn, VA, USA`): the state must not read as a country.
        "tensordock" => by_country_word(r),
        // Country-prefixed codes: `ca-montreal-1`, `fr-par`, `it-fr2`, `IN1`, `CZ`.
        "cudo" | "scaleway" | "seeweb" | "jarvislabs" | "runpod" => iso_prefix(r),
        "latitude" => latitude(r),
        "linode" => linode(r),
        "vast" => vast(region),
        "vultr" => vultr(r),
        _ => generic(region),
    }
}

/// Rules that work without knowing the provider, for adapters added later.
fn generic(region: &str) -> Option<&'static str> {
    let lower = region.to_ascii_lowercase();
    vast(region)
        .or_else(|| aws(&lower))
        .or_else(|| gcp(strip_zone(&lower)))
        .or_else(|| azure(&lower))
        .or_else(|| city_coded(&lower))
        .or_else(|| by_country_word(&lower))
}

/// `us-central1-a` → `us-central1`.
fn strip_zone(r: &str) -> &str {
    match r.rsplit_once('-') {
        Some((head, zone)) if zone.len() == 1 && head.ends_with(|c: char| c.is_ascii_digit()) => {
            head
        }
        _ => r,
    }
}

fn aws(r: &str) -> Option<&'static str> {
    let table: &[(&str, &str)] = &[
        ("af-south-1", "ZA"),
        ("ap-east-1", "HK"),
        ("ap-northeast-1", "JP"),
        ("ap-northeast-2", "KR"),
        ("ap-northeast-3", "JP"),
        ("ap-south-1", "IN"),
        ("ap-south-2", "IN"),
        ("ap-southeast-1", "SG"),
        ("ap-southeast-2", "AU"),
        ("ap-southeast-3", "ID"),
        ("ap-southeast-4", "AU"),
        ("ap-southeast-5", "MY"),
        ("ca-central-1", "CA"),
        ("ca-west-1", "CA"),
        ("eu-central-1", "DE"),
        ("eu-central-2", "CH"),
        ("eu-north-1", "SE"),
        ("eu-south-1", "IT"),
        ("eu-south-2", "ES"),
        ("eu-west-1", "IE"),
        ("eu-west-2", "GB"),
        ("eu-west-3", "FR"),
        ("il-central-1", "IL"),
        ("me-central-1", "AE"),
        ("me-south-1", "BH"),
        ("sa-east-1", "BR"),
    ];
    lookup(table, r).or_else(|| us_prefix(r))
}

fn gcp(r: &str) -> Option<&'static str> {
    let table: &[(&str, &str)] = &[
        ("africa-south1", "ZA"),
        ("asia-east1", "TW"),
        ("asia-east2", "HK"),
        ("asia-northeast1", "JP"),
        ("asia-northeast2", "JP"),
        ("asia-northeast3", "KR"),
        ("asia-south1", "IN"),
        ("asia-south2", "IN"),
        ("asia-southeast1", "SG"),
        ("asia-southeast2", "ID"),
        ("australia-southeast1", "AU"),
        ("australia-southeast2", "AU"),
        ("europe-central2", "PL"),
        ("europe-north1", "FI"),
        ("europe-southwest1", "ES"),
        ("europe-west1", "BE"),
        ("europe-west2", "GB"),
        ("europe-west3", "DE"),
        ("europe-west4", "NL"),
        ("europe-west6", "CH"),
        ("europe-west8", "IT"),
        ("europe-west9", "FR"),
        ("europe-west10", "DE"),
        ("europe-west12", "IT"),
        ("me-central1", "QA"),
        ("me-central2", "SA"),
        ("me-west1", "IL"),
        ("northamerica-northeast1", "CA"),
        ("northamerica-northeast2", "CA"),
        ("southamerica-east1", "BR"),
        ("southamerica-west1", "CL"),
        // Nebius uses GCP-style names for its own sites.
        ("eu-north1", "FI"),
        ("eu-west1", "FR"),
    ];
    lookup(table, r).or_else(|| us_prefix(r))
}

fn azure(r: &str) -> Option<&'static str> {
    let table: &[(&str, &str)] = &[
        ("australiaeast", "AU"),
        ("australiasoutheast", "AU"),
        ("brazilsouth", "BR"),
        ("canadacentral", "CA"),
        ("canadaeast", "CA"),
        ("centralindia", "IN"),
        ("southindia", "IN"),
        ("eastasia", "HK"),
        ("southeastasia", "SG"),
        ("francecentral", "FR"),
        ("germanywestcentral", "DE"),
        ("italynorth", "IT"),
        ("japaneast", "JP"),
        ("japanwest", "JP"),
        ("koreacentral", "KR"),
        ("northeurope", "IE"),
        ("westeurope", "NL"),
        ("norwayeast", "NO"),
        ("polandcentral", "PL"),
        ("qatarcentral", "QA"),
        ("southafricanorth", "ZA"),
        ("swedencentral", "SE"),
        ("switzerlandnorth", "CH"),
        ("uaenorth", "AE"),
        ("uksouth", "GB"),
        ("ukwest", "GB"),
    ];
    if let Some(c) = lookup(table, r) {
        return Some(c);
    }
    let us = [
        "eastus",
        "eastus2",
        "centralus",
        "northcentralus",
        "southcentralus",
        "westcentralus",
        "westus",
        "westus2",
        "westus3",
    ];
    us.contains(&r).then_some("US")
}

/// OCI-style `<area>-<city>-<n>` (`eu-frankfurt-1`, `ap-chuncheon-1`, `us-ashburn-1`).
fn city_coded(r: &str) -> Option<&'static str> {
    let city = r.split('-').nth(1)?;
    let table: &[(&str, &str)] = &[
        ("abudhabi", "AE"),
        ("amsterdam", "NL"),
        ("ashburn", "US"),
        ("bogota", "CO"),
        ("cardiff", "GB"),
        ("chicago", "US"),
        ("chuncheon", "KR"),
        ("dubai", "AE"),
        ("frankfurt", "DE"),
        ("hyderabad", "IN"),
        ("jeddah", "SA"),
        ("jerusalem", "IL"),
        ("johannesburg", "ZA"),
        ("london", "GB"),
        ("madrid", "ES"),
        ("marseille", "FR"),
        ("melbourne", "AU"),
        ("milan", "IT"),
        ("monterrey", "MX"),
        ("montreal", "CA"),
        ("mumbai", "IN"),
        ("osaka", "JP"),
        ("paris", "FR"),
        ("phoenix", "US"),
        ("queretaro", "MX"),
        ("saltlake", "US"),
        ("sanjose", "US"),
        ("santiago", "CL"),
        ("saopaulo", "BR"),
        ("seoul", "KR"),
        ("singapore", "SG"),
        ("stockholm", "SE"),
        ("sydney", "AU"),
        ("tokyo", "JP"),
        ("toronto", "CA"),
        ("valparaiso", "CL"),
        ("vinhedo", "BR"),
        ("zurich", "CH"),
    ];
    lookup(table, city)
}

fn lambda(r: &str) -> Option<&'static str> {
    let table: &[(&str, &str)] = &[
        ("asia-northeast-1", "JP"),
        ("asia-northeast-2", "KR"),
        ("asia-south-1", "IN"),
        ("australia-southeast-1", "AU"),
        ("europe-central-1", "DE"),
        ("europe-south-1", "IT"),
        ("me-west-1", "IL"),
    ];
    lookup(table, r).or_else(|| us_prefix(r))
}

fn ibm(r: &str) -> Option<&'static str> {
    let table: &[(&str, &str)] = &[
        ("au-syd", "AU"),
        ("br-sao", "BR"),
        ("ca-tor", "CA"),
        ("eu-de", "DE"),
        ("eu-es", "ES"),
        ("eu-gb", "GB"),
        ("jp-osa", "JP"),
        ("jp-tok", "JP"),
    ];
    lookup(table, r).or_else(|| us_prefix(r))
}

fn ovh(r: &str) -> Option<&'static str> {
    let site: String = r.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
    let table: &[(&str, &str)] = &[
        ("bhs", "CA"),
        ("gra", "FR"),
        ("rbx", "FR"),
        ("sbg", "FR"),
        ("par", "FR"),
        ("eri", "GB"),
        ("lon", "GB"),
        ("fra", "DE"),
        ("waw", "PL"),
        ("sgp", "SG"),
        ("syd", "AU"),
        ("mum", "IN"),
        ("us", "US"),
    ];
    lookup(table, &site)
}

fn digitalocean(r: &str) -> Option<&'static str> {
    let site: String = r.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
    let table: &[(&str, &str)] = &[
        ("nyc", "US"),
        ("sfo", "US"),
        ("atl", "US"),
        ("tor", "CA"),
        ("ams", "NL"),
        ("lon", "GB"),
        ("fra", "DE"),
        ("sgp", "SG"),
        ("blr", "IN"),
        ("syd", "AU"),
    ];
    lookup(table, &site)
}

/// Latitude.sh site codes (`DAL`, `SAO2`; those of the recorded `/plans` sample).
fn latitude(r: &str) -> Option<&'static str> {
    let site: String = r.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
    let table: &[(&str, &str)] = &[
        ("ash", "US"),
        ("bgt", "CO"),
        ("chi", "US"),
        ("dal", "US"),
        ("fra", "DE"),
        ("lax", "US"),
        ("mia", "US"),
        ("nyc", "US"),
        ("san", "CL"),
        ("sao", "BR"),
    ];
    lookup(table, &site)
}

/// Linode's legacy area names (`eu-west` is London), else country-prefixed ids (`id-cgk`,
/// `br-gru`, `us-iad`).
fn linode(r: &str) -> Option<&'static str> {
    let table: &[(&str, &str)] = &[
        ("ap-northeast", "JP"),
        ("ap-south", "SG"),
        ("ap-southeast", "AU"),
        ("ap-west", "IN"),
        ("ca-central", "CA"),
        ("eu-central", "DE"),
        ("eu-west", "GB"),
    ];
    lookup(table, r).or_else(|| iso_prefix(r))
}

/// Vultr's three-letter location ids (`ewr`, `ord`, `sea`: its `/v2/regions` list).
fn vultr(r: &str) -> Option<&'static str> {
    let table: &[(&str, &str)] = &[
        ("ams", "NL"),
        ("atl", "US"),
        ("blr", "IN"),
        ("bom", "IN"),
        ("cdg", "FR"),
        ("del", "IN"),
        ("dfw", "US"),
        ("ewr", "US"),
        ("fra", "DE"),
        ("hnl", "US"),
        ("icn", "KR"),
        ("itm", "JP"),
        ("jnb", "ZA"),
        ("lax", "US"),
        ("lhr", "GB"),
        ("mad", "ES"),
        ("man", "GB"),
        ("mel", "AU"),
        ("mex", "MX"),
        ("mia", "US"),
        ("nrt", "JP"),
        ("ord", "US"),
        ("sao", "BR"),
        ("scl", "CL"),
        ("sea", "US"),
        ("sgp", "SG"),
        ("sjc", "US"),
        ("sto", "SE"),
        ("syd", "AU"),
        ("tlv", "IL"),
        ("waw", "PL"),
        ("yto", "CA"),
    ];
    lookup(table, r)
}

/// Regions named after a country (`norway_4_eu`, `CANADA-1`, `KOREA-WEST-1-…`, `FIN-01`,
/// `East Coast (NY2)`) or with a `us`/`usa` part.
fn by_country_word(r: &str) -> Option<&'static str> {
    let table: &[(&str, &str)] = &[
        ("usa", "US"),
        ("us", "US"),
        ("canada", "CA"),
        ("norway", "NO"),
        ("korea", "KR"),
        ("fin", "FI"),
        ("finland", "FI"),
        ("ice", "IS"),
        ("iceland", "IS"),
        ("sweden", "SE"),
        ("germany", "DE"),
        ("france", "FR"),
        ("netherlands", "NL"),
        ("japan", "JP"),
        ("india", "IN"),
    ];
    let words = r
        .split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty());
    for word in words {
        if let Some(c) = lookup(table, word) {
            return Some(c);
        }
    }
    if r.contains("east coast") || r.contains("west coast") {
        return Some("US");
    }
    None
}

/// A region code that starts with an ISO country code: `ca-montreal-1`, `fr-par`, `IN1`, `CZ`.
fn iso_prefix(r: &str) -> Option<&'static str> {
    let head: String = r.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
    if head.len() != 2 {
        return None;
    }
    iso(&head)
}

/// Vast's free text `City, CC, CONTINENT` (the city may be empty).
fn vast(region: &str) -> Option<&'static str> {
    let parts: Vec<&str> = region.split(',').map(str::trim).collect();
    match parts.as_slice() {
        [.., cc, _continent] if cc.len() == 2 => iso(&cc.to_ascii_lowercase()),
        [cc] if cc.len() == 2 => iso(&cc.to_ascii_lowercase()),
        _ => None,
    }
}

fn us_prefix(r: &str) -> Option<&'static str> {
    (r.starts_with("us-") || r.starts_with("us_")).then_some("US")
}

fn lookup(table: &[(&str, &'static str)], key: &str) -> Option<&'static str> {
    table.iter().find(|(k, _)| *k == key).map(|(_, c)| *c)
}

/// The ISO code for a lower-case two-letter code, when it is one we know of (`uk` → `GB`).
fn iso(code: &str) -> Option<&'static str> {
    const CODES: &[&str] = &[
        "AE", "AR", "AT", "AU", "BE", "BG", "BH", "BR", "CA", "CH", "CL", "CN", "CO", "CZ", "DE",
        "DK", "EE", "ES", "FI", "FR", "GB", "GR", "HK", "HR", "HU", "ID", "IE", "IL", "IN", "IS",
        "IT", "JP", "KR", "LT", "LU", "LV", "MX", "MY", "NL", "NO", "NZ", "PH", "PL", "PT", "QA",
        "RO", "RS", "SA", "SE", "SG", "SI", "SK", "TH", "TR", "TW", "UA", "US", "VN", "ZA",
    ];
    if code == "uk" {
        return Some("GB");
    }
    CODES.iter().copied().find(|c| c.eq_ignore_ascii_case(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_regions_map_to_their_country() {
        let cases = [
            ("aws", "us-east-1", "US"),
            ("aws", "eu-west-2", "GB"),
            ("aws", "ap-northeast-2", "KR"),
            ("gcp", "europe-west4", "NL"),
            ("gcp", "asia-east1", "TW"),
            ("azure", "westus3", "US"),
            ("oci", "eu-frankfurt-1", "DE"),
            ("oci", "ap-chuncheon-1", "KR"),
            ("lambda", "us-east-1", "US"),
            ("lambda", "europe-central-1", "DE"),
            ("runpod", "CZ", "CZ"),
            ("vast", "Texas, US, NA", "US"),
            ("vast", ", CN, AS", "CN"),
            ("vast", "Hafnarfjarðarkaupstaður, IS, EU", "IS"),
            ("vast", "United Kingdom, GB, EU", "GB"),
            ("cudo", "se-smedjebacken-1", "SE"),
            ("cudo", "gb-london-1", "GB"),
            ("do", "tor1", "CA"),
            ("fluidstack", "norway_4_eu", "NO"),
            ("fluidstack", "illinois_1_usa", "US"),
            ("hyperstack", "CANADA-1", "CA"),
            ("ibm", "eu-de", "DE"),
            ("jarvislabs", "IN2", "IN"),
            ("mithril", "us-central2-a", "US"),
            ("nebius", "eu-north1", "FI"),
            ("ovhcloud", "BHS", "CA"),
            ("paperspace", "East Coast (NY2)", "US"),
            ("scaleway", "fr-par", "FR"),
            ("scp", "KOREA-WEST-1-SCP-B001", "KR"),
            ("seeweb", "it-fr2", "IT"),
            ("verda", "FIN-03", "FI"),
            ("tensordock", "Ashburn, VA, USA", "US"),
            ("tensordock", "Los Angeles, CA, USA", "US"),
            ("vultr", "ewr", "US"),
            ("latitude", "SAO2", "BR"),
            ("latitude", "DAL", "US"),
            ("linode", "us-east", "US"),
            ("linode", "id-cgk", "ID"),
            ("vultr", "fra", "DE"),
        ];
        for (provider, region, want) in cases {
            assert_eq!(
                country_of(provider, region),
                Some(want),
                "{provider} {region}"
            );
        }
    }

    #[test]
    fn unknown_regions_are_none() {
        assert_eq!(country_of("hyperbolic", "default"), None);
        assert_eq!(country_of("seeweb", ""), None);
        assert_eq!(country_of("aws", "mars-north-1"), None);
        assert_eq!(country_of("someone", "somewhere"), None);
    }
}
