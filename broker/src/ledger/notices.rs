//! What a billing-state transition tells the user: one mail per notifying effect, each gated
//! by its `notification.*` parameter (pure text building; the shell queues it in the
//! transition's transaction).

use super::billing::Effect;
use super::dollars;

/// A notice ready to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The mail kind (`low_balance`, `auto_release_pending`, `balance_depleted`,
    /// `balance_restored`).
    pub kind: &'static str,
    /// The parameter that switches it on or off.
    pub param: &'static str,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Parameter keys of the notices.
pub const LOW_BALANCE_ENABLED: &str = "notification.low_balance_enabled";
pub const AUTO_RELEASE_PENDING_ENABLED: &str = "notification.auto_release_pending_enabled";
pub const DEPLETED_ENABLED: &str = "notification.balance_depleted_enabled";
pub const RESTORED_ENABLED: &str = "notification.balance_restored_enabled";

/// The notice an effect asks for, if it is a notification (pure).
pub fn notice(effect: Effect, credit_minor: i64, burn_per_hour_minor: i64) -> Option<Notice> {
    let credit = dollars(credit_minor);
    let burn = dollars(burn_per_hour_minor);
    let (kind, param, subject, body) = match effect {
        Effect::NotifyLowBalance => (
            "low_balance",
            LOW_BALANCE_ENABLED,
            format!("Your gpubroker credit is low ({credit})"),
            format!("Your credit is down to {credit}. Top up in Billing to keep deploying."),
        ),
        Effect::NotifyAutoReleasePending => (
            "auto_release_pending",
            AUTO_RELEASE_PENDING_ENABLED,
            format!("Your deployments will be released soon ({credit} left)"),
            format!(
                "At {burn} per hour your remaining credit of {credit} runs out within the billing window. \
                 When it is gone your running deployments are released automatically. Top up in Billing to keep them."
            ),
        ),
        Effect::NotifyDepleted => (
            "balance_depleted",
            DEPLETED_ENABLED,
            "Your gpubroker credit is used up".to_string(),
            format!(
                "Your credit is {credit}. Your running deployments are being released; billing stops when each \
                 provider confirms the release. Top up in Billing to deploy again (released deployments are not restarted)."
            ),
        ),
        Effect::NotifyRestored => (
            "balance_restored",
            RESTORED_ENABLED,
            format!("Your gpubroker credit is back to {credit}"),
            format!("Thanks — your credit is {credit} and your account is in good standing again."),
        ),
        Effect::ReleaseDeployments => return None,
    };
    Some(Notice {
        kind,
        param,
        subject,
        html: format!("<p>{body}</p><p>Billing: <code>/billing</code></p>"),
        text: format!("{body}\n\nBilling: /billing\n"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_notifying_effect_has_a_notice_and_release_has_none() {
        for (e, kind) in [
            (Effect::NotifyLowBalance, "low_balance"),
            (Effect::NotifyAutoReleasePending, "auto_release_pending"),
            (Effect::NotifyDepleted, "balance_depleted"),
            (Effect::NotifyRestored, "balance_restored"),
        ] {
            let n = notice(e, 1234, 500).unwrap();
            assert_eq!(n.kind, kind);
            assert!(crate::params::def(n.param).is_ok(), "{}", n.param);
        }
        assert_eq!(notice(Effect::ReleaseDeployments, 0, 0), None);
    }

    #[test]
    fn amounts_are_written_in_dollars() {
        let n = notice(Effect::NotifyLowBalance, 405, 0).unwrap();
        assert!(n.subject.contains("$4.05"), "{}", n.subject);
        assert_eq!(dollars(-7), "-$0.07");
    }
}
