//! The LIVE world's table: for every real adapter, which secret fields and settings its
//! credential carries and how an adapter is built from them, pointed at the vendor's real
//! API (or at the `base_url` setting, which MAAS requires and every adapter accepts).
//!
//! Invariants: this is the only place that maps a stored credential to an adapter; a
//! credential is validated by building from it (one source of truth for "what is
//! required"); secrets travel as [`Secret`] and never reach a log line.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};
use thiserror::Error;

use crate::http::{EngineConfig, EngineError, Secret};
use crate::Provider;

/// A decrypted provider credential: the secret fields and the non-secret settings.
#[derive(Debug, Clone, Default)]
pub struct LiveCredential {
    /// Secret fields by name (`api_key`, `client_id` + `client_secret`, …).
    pub secret: BTreeMap<String, Secret>,
    /// Non-secret settings (`base_url`, `project_id`, `regions`, …).
    pub settings: Map<String, Value>,
}

/// Why a credential cannot build an adapter. `field` is `secret.<name>` or
/// `settings.<name>`, as the admin API names it.
#[derive(Debug, Error)]
pub enum LiveError {
    #[error("`{field}` is required")]
    Missing { field: String },
    #[error("`{field}`: {message}")]
    Invalid { field: String, message: String },
    #[error("building the adapter: {0}")]
    Engine(#[from] EngineError),
}

impl LiveError {
    /// The field the error is about, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            LiveError::Missing { field } | LiveError::Invalid { field, .. } => Some(field),
            LiveError::Engine(_) => None,
        }
    }
}

type Build = fn(EngineConfig, &Reader<'_>) -> Result<Arc<dyn Provider>, LiveError>;

/// One real adapter as the LIVE world knows it.
#[derive(Clone, Copy)]
pub struct Spec {
    /// The provider id (`lambda`, `do`, `maas`).
    pub id: &'static str,
    /// Secret fields, all required; joined with `:` into the engine's credential in this
    /// order (the form each [`crate::http::AuthScheme`] expects). Empty: a public API.
    pub secret_fields: &'static [&'static str],
    /// Settings that must be present.
    pub required_settings: &'static [&'static str],
    /// Every setting understood besides `base_url`.
    pub settings: &'static [&'static str],
    build: Build,
}

impl std::fmt::Debug for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spec").field("id", &self.id).finish()
    }
}

/// The setting every adapter accepts: the API root replacing the vendor's.
pub const BASE_URL: &str = "base_url";

/// Every real adapter, sorted by id: the 22 clouds and MAAS.
pub const SPECS: &[Spec] = &[
    Spec {
        id: "akash",
        secret_fields: &[],
        required_settings: &[],
        settings: &[],
        build: |c, _| Ok(Arc::new(crate::akash::Akash::new(c)?)),
    },
    Spec {
        id: "aws",
        secret_fields: &["access_key_id", "secret_access_key"],
        required_settings: &[],
        settings: &["regions", "ec2_endpoint", "image_ids", "key_name"],
        build: |c, r| {
            use crate::aws::{Aws, AwsSettings};
            let d = AwsSettings::default();
            let s = AwsSettings {
                regions: r.list("regions")?.unwrap_or(d.regions),
                ec2_endpoint: r.text("ec2_endpoint")?,
                image_ids: r.map("image_ids")?.unwrap_or(d.image_ids),
                key_name: r.text("key_name")?,
            };
            Ok(Arc::new(Aws::new(c, s)?))
        },
    },
    Spec {
        id: "azure",
        secret_fields: &[],
        required_settings: &[],
        settings: &[],
        build: |c, _| Ok(Arc::new(crate::azure::Azure::new(c)?)),
    },
    Spec {
        id: "cudo",
        secret_fields: &["api_key"],
        required_settings: &["project_id"],
        settings: &["project_id", "boot_disk_image_id", "min_disk_gib"],
        build: |c, r| {
            use crate::cudo::{Cudo, CudoSettings};
            let d = CudoSettings::default();
            let s = CudoSettings {
                project_id: r.text("project_id")?.unwrap_or(d.project_id),
                boot_disk_image_id: r
                    .text("boot_disk_image_id")?
                    .unwrap_or(d.boot_disk_image_id),
                min_disk_gib: r.uint("min_disk_gib")?.unwrap_or(d.min_disk_gib),
            };
            Ok(Arc::new(Cudo::new(c, s)?))
        },
    },
    Spec {
        id: "do",
        secret_fields: &["api_key"],
        required_settings: &[],
        settings: &["ssh_key_ids"],
        build: |c, r| {
            use crate::digitalocean::{DigitalOcean, DigitalOceanSettings};
            let s = DigitalOceanSettings {
                ssh_key_ids: r.list("ssh_key_ids")?.unwrap_or_default(),
            };
            Ok(Arc::new(DigitalOcean::new(c, s)?))
        },
    },
    Spec {
        id: "fluidstack",
        secret_fields: &["api_key"],
        required_settings: &[],
        settings: &["ssh_key_name", "operating_system_label"],
        build: |c, r| {
            use crate::fluidstack::{FluidStack, FluidStackSettings};
            let d = FluidStackSettings::default();
            let s = FluidStackSettings {
                ssh_key_name: r.text("ssh_key_name")?.unwrap_or(d.ssh_key_name),
                operating_system_label: r
                    .text("operating_system_label")?
                    .unwrap_or(d.operating_system_label),
            };
            Ok(Arc::new(FluidStack::new(c, s)?))
        },
    },
    Spec {
        id: "gcp",
        secret_fields: &["api_key"],
        required_settings: &[],
        settings: &[],
        build: |c, _| Ok(Arc::new(crate::gcp::Gcp::new(c)?)),
    },
    Spec {
        id: "hyperstack",
        secret_fields: &["api_key"],
        required_settings: &[],
        settings: &["key_name", "image_name", "environments"],
        build: |c, r| {
            use crate::hyperstack::{Hyperstack, HyperstackSettings};
            let d = HyperstackSettings::default();
            let s = HyperstackSettings {
                key_name: r.text("key_name")?.unwrap_or(d.key_name),
                image_name: r.text("image_name")?.unwrap_or(d.image_name),
                environments: r.map("environments")?.unwrap_or(d.environments),
            };
            Ok(Arc::new(Hyperstack::new(c, s)?))
        },
    },
    Spec {
        id: "jarvislabs",
        secret_fields: &["api_key"],
        required_settings: &[],
        settings: &["region_hosts", "min_disk_gb"],
        build: |c, r| {
            use crate::jarvislabs::{Jarvislabs, JarvislabsSettings};
            let d = JarvislabsSettings::default();
            let s = JarvislabsSettings {
                region_hosts: r.map("region_hosts")?.unwrap_or(d.region_hosts),
                min_disk_gb: r.uint("min_disk_gb")?.unwrap_or(d.min_disk_gb),
            };
            Ok(Arc::new(Jarvislabs::new(c, s)?))
        },
    },
    Spec {
        id: "lambda",
        secret_fields: &["api_key"],
        required_settings: &[],
        settings: &["ssh_key_name"],
        build: |c, r| {
            use crate::lambda::{Lambda, LambdaSettings};
            let d = LambdaSettings::default();
            let s = LambdaSettings {
                ssh_key_name: r.text("ssh_key_name")?.unwrap_or(d.ssh_key_name),
            };
            Ok(Arc::new(Lambda::new(c, s)?))
        },
    },
    Spec {
        id: "latitude",
        secret_fields: &["api_key"],
        required_settings: &["project"],
        settings: &["project", "operating_system", "ssh_key_ids"],
        build: |c, r| {
            use crate::latitude::{Latitude, LatitudeSettings};
            let d = LatitudeSettings::default();
            let s = LatitudeSettings {
                project: r.text("project")?.unwrap_or(d.project),
                operating_system: r.text("operating_system")?.unwrap_or(d.operating_system),
                ssh_key_ids: r.list("ssh_key_ids")?.unwrap_or(d.ssh_key_ids),
            };
            Ok(Arc::new(Latitude::new(c, s)?))
        },
    },
    Spec {
        id: "linode",
        secret_fields: &["api_key"],
        required_settings: &[],
        settings: &["image"],
        build: |c, r| {
            use crate::linode::{LinodeCloud, LinodeSettings};
            let d = LinodeSettings::default();
            let s = LinodeSettings {
                image: r.text("image")?.unwrap_or(d.image),
            };
            Ok(Arc::new(LinodeCloud::new(c, s)?))
        },
    },
    Spec {
        id: "maas",
        secret_fields: &["api_key"],
        required_settings: &[BASE_URL],
        settings: &["distro_series", "erase"],
        build: |c, r| {
            use crate::maas::{DiskErase, Maas, MaasSettings};
            let d = MaasSettings::default();
            let erase = match r.text("erase")?.as_deref() {
                None => d.erase,
                Some("none") => DiskErase::None,
                Some("quick") => DiskErase::Quick,
                Some("secure") => DiskErase::Secure,
                Some(_) => {
                    return Err(Reader::invalid(
                        "erase",
                        "must be one of none, quick, secure",
                    ))
                }
            };
            let s = MaasSettings {
                distro_series: r.text("distro_series")?.unwrap_or(d.distro_series),
                erase,
            };
            Ok(Arc::new(Maas::new(c, s)?))
        },
    },
    Spec {
        id: "oci",
        secret_fields: &[],
        required_settings: &[],
        settings: &["regions"],
        build: |c, r| {
            use crate::oci::{Oci, OciSettings};
            let d = OciSettings::default();
            let s = OciSettings {
                regions: r.list("regions")?.unwrap_or(d.regions),
            };
            Ok(Arc::new(Oci::new(c, s)?))
        },
    },
    Spec {
        id: "ovhcloud",
        secret_fields: &["application_key", "application_secret", "consumer_key"],
        required_settings: &["service_name"],
        settings: &["service_name", "subsidiary", "image", "ssh_key_id"],
        build: |c, r| {
            use crate::ovhcloud::{OvhCloud, OvhSettings};
            let d = OvhSettings::default();
            let s = OvhSettings {
                service_name: r.text("service_name")?.unwrap_or(d.service_name),
                subsidiary: r.text("subsidiary")?.unwrap_or(d.subsidiary),
                image: r.text("image")?.unwrap_or(d.image),
                ssh_key_id: r.text("ssh_key_id")?,
                usd_per_eur: d.usd_per_eur,
            };
            Ok(Arc::new(OvhCloud::new(c, s)?))
        },
    },
    Spec {
        id: "paperspace",
        secret_fields: &["api_key"],
        required_settings: &["template_id"],
        settings: &["template_id"],
        build: |c, r| {
            use crate::paperspace::{Paperspace, PaperspaceSettings};
            let s = PaperspaceSettings {
                template_id: r.text("template_id")?.unwrap_or_default(),
            };
            Ok(Arc::new(Paperspace::new(c, s)?))
        },
    },
    Spec {
        id: "runpod",
        secret_fields: &["api_key"],
        required_settings: &[],
        settings: &["rest_base_url"],
        build: |c, r| {
            use crate::runpod::{RunPod, RunPodSettings};
            let d = RunPodSettings::default();
            let s = RunPodSettings {
                rest_base_url: r.url("rest_base_url")?.unwrap_or(d.rest_base_url),
            };
            Ok(Arc::new(RunPod::new(c, s)?))
        },
    },
    Spec {
        id: "scaleway",
        secret_fields: &["api_key"],
        required_settings: &["project_id"],
        settings: &["project_id", "zones", "image"],
        build: |c, r| {
            use crate::scaleway::{Scaleway, ScalewaySettings};
            let d = ScalewaySettings::default();
            let s = ScalewaySettings {
                zones: r.list("zones")?.unwrap_or(d.zones),
                project_id: r.text("project_id")?.unwrap_or(d.project_id),
                image: r.text("image")?.unwrap_or(d.image),
                usd_per_eur: d.usd_per_eur,
            };
            Ok(Arc::new(Scaleway::new(c, s)?))
        },
    },
    Spec {
        id: "seeweb",
        secret_fields: &["api_key"],
        required_settings: &[],
        settings: &["image", "ssh_key"],
        build: |c, r| {
            use crate::seeweb::{Seeweb, SeewebSettings};
            let d = SeewebSettings::default();
            let s = SeewebSettings {
                image: r.text("image")?.unwrap_or(d.image),
                ssh_key: r.text("ssh_key")?,
                usd_per_eur: d.usd_per_eur,
            };
            Ok(Arc::new(Seeweb::new(c, s)?))
        },
    },
    Spec {
        id: "tensordock",
        secret_fields: &["api_key"],
        required_settings: &[],
        settings: &["vcpus_per_gpu", "ram_gb_per_gpu", "storage_gb", "image"],
        build: |c, r| {
            use crate::tensordock::{TensorDock, TensorDockSettings};
            let d = TensorDockSettings::default();
            let s = TensorDockSettings {
                vcpus_per_gpu: r.uint("vcpus_per_gpu")?.unwrap_or(d.vcpus_per_gpu),
                ram_gb_per_gpu: r.uint("ram_gb_per_gpu")?.unwrap_or(d.ram_gb_per_gpu),
                storage_gb: r.uint("storage_gb")?.unwrap_or(d.storage_gb),
                image: r.text("image")?.unwrap_or(d.image),
            };
            Ok(Arc::new(TensorDock::new(c, s)?))
        },
    },
    Spec {
        id: "vast",
        secret_fields: &["api_key"],
        required_settings: &[],
        settings: &[],
        build: |c, _| Ok(Arc::new(crate::vast::Vast::new(c)?)),
    },
    Spec {
        id: "verda",
        secret_fields: &["client_id", "client_secret"],
        required_settings: &[],
        settings: &["ssh_key_ids"],
        build: |c, r| {
            use crate::verda::{Verda, VerdaSettings};
            let s = VerdaSettings {
                ssh_key_ids: r.list("ssh_key_ids")?.unwrap_or_default(),
            };
            Ok(Arc::new(Verda::new(c, s)?))
        },
    },
    Spec {
        id: "vultr",
        secret_fields: &["api_key"],
        required_settings: &[],
        settings: &["os_id", "ssh_key_ids"],
        build: |c, r| {
            use crate::vultr::{Vultr, VultrSettings};
            let d = VultrSettings::default();
            let s = VultrSettings {
                os_id: r.uint("os_id")?.unwrap_or(d.os_id),
                ssh_key_ids: r.list("ssh_key_ids")?.unwrap_or(d.ssh_key_ids),
            };
            Ok(Arc::new(Vultr::new(c, s)?))
        },
    },
];

/// The adapter spec of `id`, if it is a real adapter.
pub fn spec(id: &str) -> Option<&'static Spec> {
    SPECS.iter().find(|s| s.id == id)
}

impl Spec {
    /// The secret field whose tail the masked hint shows (the last one: the key or secret
    /// half of a pair).
    pub fn hint_field(&self) -> Option<&'static str> {
        self.secret_fields.last().copied()
    }

    /// Checks a credential without building anything that talks to the network.
    pub fn validate(&self, cred: &LiveCredential) -> Result<(), LiveError> {
        self.build(&EngineConfig::default(), cred).map(|_| ())
    }

    /// Builds the adapter from `cred` on the `template` engine configuration (clock, TTL,
    /// retry, breaker); the base URL is the vendor's unless `base_url` is set.
    pub fn build(
        &self,
        template: &EngineConfig,
        cred: &LiveCredential,
    ) -> Result<Arc<dyn Provider>, LiveError> {
        for name in cred.secret.keys() {
            if !self.secret_fields.contains(&name.as_str()) {
                return Err(LiveError::Invalid {
                    field: format!("secret.{name}"),
                    message: format!("not a secret field of `{}`{}", self.id, expected(self)),
                });
            }
        }
        let mut parts = Vec::with_capacity(self.secret_fields.len());
        for f in self.secret_fields {
            match cred
                .secret
                .get(*f)
                .filter(|s| !s.expose().trim().is_empty())
            {
                Some(s) if s.expose().contains(':') && self.secret_fields.len() > 1 => {
                    return Err(LiveError::Invalid {
                        field: format!("secret.{f}"),
                        message: "must not contain `:`".into(),
                    })
                }
                Some(s) => parts.push(s.expose().trim().to_string()),
                None => {
                    return Err(LiveError::Missing {
                        field: format!("secret.{f}"),
                    })
                }
            }
        }
        for name in cred.settings.keys() {
            if name != BASE_URL && !self.settings.contains(&name.as_str()) {
                return Err(LiveError::Invalid {
                    field: format!("settings.{name}"),
                    message: format!("not a setting of `{}`", self.id),
                });
            }
        }
        for name in self.required_settings {
            if cred.settings.get(*name).is_none_or(Value::is_null) {
                return Err(LiveError::Missing {
                    field: format!("settings.{name}"),
                });
            }
        }
        let reader = Reader(&cred.settings);
        let config = EngineConfig {
            base_url: reader.url(BASE_URL)?,
            credentials: (!parts.is_empty()).then(|| Secret::new(parts.join(":"))),
            ..template.clone()
        };
        (self.build)(config, &reader)
    }
}

fn expected(spec: &Spec) -> String {
    if spec.secret_fields.is_empty() {
        " (its API is public: send an empty secret)".to_string()
    } else {
        format!(" (expected: {})", spec.secret_fields.join(", "))
    }
}

/// Typed reads of the settings object, each naming its field on error.
struct Reader<'a>(&'a Map<String, Value>);

impl Reader<'_> {
    fn field(name: &str) -> String {
        format!("settings.{name}")
    }

    fn invalid(name: &str, message: &str) -> LiveError {
        LiveError::Invalid {
            field: Self::field(name),
            message: message.to_string(),
        }
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    fn text(&self, name: &str) -> Result<Option<String>, LiveError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
            Some(_) => Err(Self::invalid(name, "must be a non-empty string")),
        }
    }

    fn url(&self, name: &str) -> Result<Option<String>, LiveError> {
        let Some(u) = self.text(name)? else {
            return Ok(None);
        };
        match reqwest::Url::parse(&u) {
            Ok(p) if matches!(p.scheme(), "http" | "https") && p.host().is_some() => {
                Ok(Some(u.trim_end_matches('/').to_string()))
            }
            _ => Err(Self::invalid(name, "must be an http(s) URL")),
        }
    }

    fn uint(&self, name: &str) -> Result<Option<u32>, LiveError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| Self::invalid(name, "must be a non-negative integer")),
        }
    }

    /// A list of strings: a JSON array, or one comma-separated string.
    fn list(&self, name: &str) -> Result<Option<Vec<String>>, LiveError> {
        let bad = || Self::invalid(name, "must be a list of strings");
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(
                s.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
            )),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_string).ok_or_else(bad))
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(bad()),
        }
    }

    /// An object of string values.
    fn map(&self, name: &str) -> Result<Option<BTreeMap<String, String>>, LiveError> {
        let bad = || Self::invalid(name, "must be an object of strings");
        match self.get(name) {
            None => Ok(None),
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, v)| {
                    v.as_str()
                        .map(|s| (k.clone(), s.to_string()))
                        .ok_or_else(bad)
                })
                .collect::<Result<BTreeMap<_, _>, _>>()
                .map(Some),
            Some(_) => Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cred(secret: &[(&str, &str)], settings: Value) -> LiveCredential {
        LiveCredential {
            secret: secret
                .iter()
                .map(|(k, v)| (k.to_string(), Secret::new(*v)))
                .collect(),
            settings: settings.as_object().cloned().unwrap_or_default(),
        }
    }

    #[test]
    fn the_table_covers_every_cloud_and_maas_sorted_and_once() {
        let ids: Vec<&str> = SPECS.iter().map(|s| s.id).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(ids, sorted);
        assert_eq!(ids.len(), 23);
        assert!(ids.contains(&"maas") && ids.contains(&"lambda") && ids.contains(&"do"));
    }

    #[test]
    fn every_adapter_builds_from_a_complete_credential_with_its_own_id() {
        for spec in SPECS {
            let secret: Vec<(&str, &str)> =
                spec.secret_fields.iter().map(|f| (*f, "k-123")).collect();
            let settings = json!({
                "base_url": "http://127.0.0.1:9",
                "project_id": "p", "project": "p", "service_name": "s", "template_id": "t",
            });
            let mut c = cred(&secret, settings);
            c.settings
                .retain(|k, _| k == BASE_URL || spec.settings.contains(&k.as_str()));
            let p = spec.build(&EngineConfig::default(), &c);
            assert_eq!(p.map(|p| p.id().0.clone()).ok().as_deref(), Some(spec.id));
        }
    }

    #[test]
    fn a_missing_secret_field_is_named() {
        let Some(spec) = spec("verda") else {
            panic!("verda is in the table")
        };
        let err = spec.validate(&cred(&[("client_id", "a")], json!({})));
        assert_eq!(
            err.err().and_then(|e| e.field().map(str::to_string)),
            Some("secret.client_secret".to_string())
        );
    }

    #[test]
    fn unknown_fields_and_bad_urls_are_named() {
        let Some(lambda) = spec("lambda") else {
            panic!("lambda is in the table")
        };
        let field = |c: LiveCredential| {
            lambda
                .validate(&c)
                .err()
                .and_then(|e| e.field().map(str::to_string))
        };
        assert_eq!(
            field(cred(&[("api_key", "k"), ("token", "t")], json!({}))),
            Some("secret.token".into())
        );
        assert_eq!(
            field(cred(&[("api_key", "k")], json!({"base_url": "ftp://x"}))),
            Some("settings.base_url".into())
        );
        assert_eq!(
            field(cred(&[("api_key", "k")], json!({"colour": "red"}))),
            Some("settings.colour".into())
        );
        assert!(lambda
            .validate(&cred(&[("api_key", "k")], json!({})))
            .is_ok());
    }

    #[test]
    fn maas_needs_its_endpoint_and_a_known_erase_mode() {
        let Some(maas) = spec("maas") else {
            panic!("maas is in the table")
        };
        let field = |settings: Value| {
            maas.validate(&cred(&[("api_key", "a:b:c")], settings))
                .err()
                .and_then(|e| e.field().map(str::to_string))
        };
        assert_eq!(field(json!({})), Some("settings.base_url".to_string()));
        assert_eq!(
            field(json!({"base_url": "http://maas:5240/MAAS/api/2.0", "erase": "shred"})),
            Some("settings.erase".to_string())
        );
        assert_eq!(
            field(json!({"base_url": "http://maas:5240/MAAS/api/2.0", "erase": "secure"})),
            None
        );
    }
}
