//! How an instance made at a provider is tied back to its allocation: the broker's tag, the
//! allocation tag, the instance name, and the cloud-init that installs the user's SSH key.
//! Adapters whose API has tags carry both tags; the others carry the allocation id in the
//! instance name (or label, or hostname). The reconciler finds orphans through either.
//!
//! Invariant: what [`allocation_tag`] / [`instance_name`] write, [`allocation_of_tags`] /
//! [`allocation_of_name`] read back unchanged for every allocation id the broker issues
//! (UUIDs: ASCII letters, digits and `-`).

/// The tag every instance the broker makes carries (the list filter).
pub const BROKER_TAG: &str = "gpubroker";

/// Prefix of the tag that carries the allocation id.
pub const ALLOCATION_TAG_PREFIX: &str = "gpubroker-alloc:";

/// Prefix of the instance name that carries the allocation id.
pub const NAME_PREFIX: &str = "gpubroker-";

/// The tag carrying `allocation_id`: letters, digits, `:`, `-` and `_` only (the strictest
/// alphabet among the providers' tag rules), up to 255 characters; `None` otherwise.
pub fn allocation_tag(allocation_id: &str) -> Option<String> {
    let ok = !allocation_id.is_empty()
        && allocation_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'-' | b'_'));
    let tag = format!("{ALLOCATION_TAG_PREFIX}{allocation_id}");
    (ok && tag.len() <= 255).then_some(tag)
}

/// The allocation id carried in `tags`, if any.
pub fn allocation_of_tags(tags: &[String]) -> Option<&str> {
    tags.iter()
        .find_map(|t| t.strip_prefix(ALLOCATION_TAG_PREFIX))
}

/// `gpubroker-<allocation id>`, every character outside `[A-Za-z0-9-]` replaced by `-` (a
/// valid host name and label at every provider we call), at most `max_len` characters.
pub fn instance_name(allocation_id: &str, max_len: usize) -> String {
    let id: String = allocation_id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let mut name = format!("{NAME_PREFIX}{id}");
    name.truncate(max_len);
    name
}

/// The allocation id in a name made by [`instance_name`]; `None` for instances the broker
/// did not make.
pub fn allocation_of_name(name: &str) -> Option<&str> {
    name.strip_prefix(NAME_PREFIX).filter(|id| !id.is_empty())
}

/// Cloud-init that installs the user's SSH key (for APIs that take user data rather than
/// key text), or `None` when there is no usable single-line key.
pub fn ssh_cloud_init(ssh_public_key: Option<&str>) -> Option<String> {
    let key = ssh_public_key?.trim();
    (!key.is_empty() && !key.contains(['\n', '\r']))
        .then(|| format!("#cloud-config\nssh_authorized_keys:\n  - {key}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_ids_round_trip_through_tags_and_names() {
        let id = "0193c0de-7a1b-7c2d-9e3f-0123456789ab";
        let tag = allocation_tag(id).unwrap();
        assert_eq!(allocation_of_tags(&[BROKER_TAG.into(), tag]), Some(id));
        assert_eq!(allocation_of_name(&instance_name(id, 64)), Some(id));
        assert_eq!(allocation_tag("has space"), None);
        assert_eq!(allocation_of_name("someone-elses-vm"), None);
        assert_eq!(instance_name("a b", 64), "gpubroker-a-b");
        assert_eq!(instance_name(id, 12).len(), 12);
    }

    #[test]
    fn only_single_line_keys_become_cloud_init() {
        let c = ssh_cloud_init(Some("ssh-ed25519 AAAA u@h")).unwrap();
        assert!(c.starts_with("#cloud-config\n") && c.contains("  - ssh-ed25519 AAAA u@h\n"));
        assert_eq!(ssh_cloud_init(Some("a\nb")), None);
        assert_eq!(ssh_cloud_init(None), None);
    }
}
