//! The admin agent (thin for now): it will plan procurement and releases and act only
//! through `broker`'s allocation service — no SQL, no vendor calls, no backdoor.
