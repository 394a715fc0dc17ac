//! The pure domain of pod: what a pizza order is and how it gets confirmed.
//!
//! Everything here is plain data and pure functions. Time is an argument
//! ([`Timestamp`]), randomness never appears (codes and ids are made behind
//! ports in `pod-ports`), and nothing does IO or async work. That keeps the
//! rules that matter for security (code lifetime, attempt limits, account
//! lockout) small enough to read in one sitting and to check with property
//! tests.
//!
//! The main types:
//! - [`Pizza`], [`PizzaSize`], [`Topping`]: parsed from what a person says.
//! - [`Order`] and its [`OrderState`]: the confirm state machine.
//! - [`ConfirmationPolicy`]: code lifetime, attempt limits, send rate, lockout.
//! - [`Account`]: one customer's pending order, codes, send logs and lock,
//!   changed only by pure transitions that return a [`Change`] to commit.

#![deny(clippy::disallowed_methods)]

mod account;
mod customer;
mod order;
mod pizza;
mod policy;
mod rfc3339;
mod time;

pub use account::{
    Account, AccountRecord, Change, CodeDigest, ConfirmResult, InvalidAccount, Lockout,
    OrderCodeStep, Placed, SendLog, SendRefusal, SignInCode, SignInResult, SignInStep, Stale,
};
pub use customer::{Channel, ContactPoints, CustomerId, Destination, InvalidCustomerId};
pub use order::{
    AwaitingCode, CancelReason, CodeCheck, ConfirmStep, Order, OrderError, OrderEvent, OrderId,
    OrderState, Transition,
};
pub use pizza::{Language, MAX_TOPPINGS, Pizza, PizzaError, PizzaSize, Topping, Words};
pub use policy::{ConfirmationPolicy, PolicyError};
pub use time::Timestamp;
