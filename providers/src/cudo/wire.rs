//! CUDO Compute REST API v1 wire types (only the fields the adapter reads or sends).

use serde::{Deserialize, Serialize};

/// `GET /vms/machine-types` → `{"machineTypes": [...]}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MachineTypes {
    pub machine_types: Vec<MachineType>,
}

/// One composable machine type in one data centre: prices per component and what is free.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MachineType {
    pub data_center_id: String,
    pub machine_type: String,
    #[serde(default)]
    pub gpu_model: String,
    #[serde(default)]
    pub min_vcpu_per_memory_gib: Option<f64>,
    #[serde(default)]
    pub max_vcpu_per_memory_gib: Option<f64>,
    #[serde(default)]
    pub min_vcpu_per_gpu: Option<f64>,
    #[serde(default)]
    pub max_vcpu_per_gpu: Option<f64>,
    pub vcpu_price_hr: Price,
    pub memory_gib_price_hr: Price,
    pub gpu_price_hr: Price,
    #[serde(default)]
    pub ipv4_price_hr: Option<Price>,
    #[serde(default)]
    pub max_vcpu_free: Option<u32>,
    #[serde(default)]
    pub max_memory_gib_free: Option<u32>,
    #[serde(default)]
    pub max_gpu_free: Option<u32>,
}

/// `{"value": "0.520000"}`: USD per hour as decimal text.
#[derive(Debug, Deserialize)]
pub(crate) struct Price {
    pub value: String,
}

/// `POST /projects/{project}/vm` body.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateVm<'a> {
    pub vm_id: &'a str,
    pub data_center_id: &'a str,
    pub machine_type: &'a str,
    pub vcpus: u32,
    pub memory_gib: u32,
    pub gpus: u32,
    pub boot_disk_image_id: &'a str,
    pub boot_disk: Disk<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub custom_ssh_keys: Vec<&'a str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Disk<'a> {
    pub storage_class: &'a str,
    pub size_gib: u32,
}

/// The create answer: `{"id", "vm"?}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Created {
    pub id: String,
}

/// `GET /projects/{project}/vms/{id}` → `{"VM": {...}}`.
#[derive(Debug, Deserialize)]
pub(crate) struct VmOne {
    #[serde(rename = "VM")]
    pub vm: VmWire,
}

/// `GET /projects/{project}/vms` → `{"VMs": [...]}`.
#[derive(Debug, Deserialize)]
pub(crate) struct VmList {
    #[serde(rename = "VMs", default)]
    pub vms: Vec<VmWire>,
}

/// A VM; its `id` is the `vmId` we chose (the allocation id).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VmWire {
    pub id: String,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub datacenter_id: Option<String>,
    #[serde(default)]
    pub machine_type: Option<String>,
    #[serde(default)]
    pub gpu_quantity: Option<u32>,
    #[serde(default)]
    pub public_ip_address: Option<String>,
    #[serde(default)]
    pub external_ip_address: Option<String>,
}

/// The gRPC-gateway error body: `{"code": <gRPC code>, "message", "details"}`.
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorBody {
    pub code: i64,
}
