//! The channel families of this gateway, in the order their webhooks, reply
//! transports and pollers are set up. A new channel family is one more line
//! here (and its module implementing [`crate::channel::Family`]).

use crate::channel::Family;

/// Every channel family; disabled providers contribute nothing.
pub fn all() -> [&'static dyn Family; 3] {
    [&crate::sms::Sms, &crate::social::Social, &crate::email::Email]
}
