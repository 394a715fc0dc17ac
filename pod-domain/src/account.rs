//! One customer's account: everything a code check, a code send or an order
//! depends on, as one value with pure transitions.
//!
//! A store keeps an [`Account`] as one row with a version. A caller loads
//! it, lets a transition here decide, and commits the [`Change`] it returns
//! in one version-checked write; when another request committed first, the
//! write is refused and the caller decides again on the fresh account. So
//! every rule (attempts per code, send budgets, the account lock, one pending
//! order) is checked and recorded in the same atomic step, on one server or
//! many.

use std::fmt;

use crate::{
    CancelReason, CodeCheck, ConfirmStep, ConfirmationPolicy, CustomerId, Destination, Order,
    OrderEvent, OrderId, Pizza, Timestamp,
};

/// A keyed digest of a one-time code, kept when pod checks codes itself (the
/// embedded mode); the code is never kept. `Debug` hides the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct CodeDigest(Vec<u8>);

impl CodeDigest {
    /// Wraps digest bytes (as a code adapter computed or a store kept them).
    pub fn new(bytes: Vec<u8>) -> Self {
        CodeDigest(bytes)
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for CodeDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeDigest(****)")
    }
}

/// A sign-in code that was sent and may still be checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInCode {
    /// The digest to compare against; `None` when the provider checks codes.
    pub digest: Option<CodeDigest>,
    /// When it was sent.
    pub issued_at: Timestamp,
    /// The first moment it no longer signs in.
    pub expires_at: Timestamp,
    /// Wrong codes entered for it so far.
    pub failed_attempts: u32,
}

/// The times codes of one purpose were sent within the policy's window,
/// oldest first. Older sends are dropped whenever one is added.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SendLog(Vec<Timestamp>);

impl SendLog {
    /// A log of the given send times (as stored).
    pub fn from_times(mut times: Vec<Timestamp>) -> Self {
        times.sort();
        SendLog(times)
    }

    /// The send times, oldest first.
    pub fn times(&self) -> &[Timestamp] {
        &self.0
    }

    /// Sends within the window that ends at `now`.
    pub fn sent_in_window(&self, now: Timestamp) -> u32 {
        let since = now.minus(ConfirmationPolicy::SEND_WINDOW);
        let n = self.0.iter().filter(|t| **t > since).count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    fn after_send(&self, now: Timestamp) -> SendLog {
        let since = now.minus(ConfirmationPolicy::SEND_WINDOW);
        let mut times: Vec<Timestamp> = self.0.iter().copied().filter(|t| *t > since).collect();
        times.push(now);
        SendLog::from_times(times)
    }
}

/// The account lock: a run of wrong codes across every surface (voice,
/// API, web sign-in), and when the lock last engaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Lockout {
    /// Wrong codes in a row, on any surface.
    pub consecutive_failures: u32,
    /// When the run last reached the limit (the cool-down counts from here).
    pub locked_at: Option<Timestamp>,
}

impl Lockout {
    /// Whether code checks and code sends are refused at `now`.
    ///
    /// Locked from the `lockout_after`-th failure for the cool-down; after
    /// it, one code at a time is allowed (the next failure locks again,
    /// since the run is kept), and from
    /// [`ConfirmationPolicy::PERMANENT_LOCK_AFTER`] failures on the lock
    /// no longer lifts by itself.
    pub fn is_locked(&self, now: Timestamp, policy: &ConfirmationPolicy) -> bool {
        if self.consecutive_failures < policy.lockout_after() {
            return false;
        }
        if self.consecutive_failures >= ConfirmationPolicy::PERMANENT_LOCK_AFTER {
            return true;
        }
        match self.locked_at {
            Some(at) => now < at.plus(policy.lockout_cooldown()),
            None => true,
        }
    }

    fn after_failure(self, now: Timestamp, policy: &ConfirmationPolicy) -> Lockout {
        let failures = self.consecutive_failures.saturating_add(1);
        Lockout {
            consecutive_failures: failures,
            locked_at: if failures >= policy.lockout_after() {
                Some(now)
            } else {
                self.locked_at
            },
        }
    }
}

/// Why an account refuses to send a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendRefusal {
    /// The account is locked after too many wrong codes.
    Locked,
    /// This purpose's send budget for the window is spent.
    RateLimited,
}

/// A committed step: the account after it (its version one higher) and the
/// orders it wrote, plus the events to publish once it is durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    account: Account,
    orders: Vec<Order>,
    events: Vec<OrderEvent>,
}

impl Change {
    /// The account after the change.
    pub fn account(&self) -> &Account {
        &self.account
    }

    /// The version the stored account must still have for the change to
    /// apply.
    pub fn expected_version(&self) -> u64 {
        self.account.version - 1
    }

    /// The orders to write (new ones and changed ones), in order.
    pub fn orders(&self) -> &[Order] {
        &self.orders
    }

    /// What to tell watchers once the change is committed.
    pub fn events(&self) -> &[OrderEvent] {
        &self.events
    }

    /// The events, owned.
    pub fn into_events(self) -> Vec<OrderEvent> {
        self.events
    }
}

/// What placing an order decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    /// What to commit before the code is sent.
    pub change: Change,
    /// The new order, awaiting its code.
    pub order: Order,
    /// The pending order it replaced, now cancelled as superseded.
    pub superseded: Option<Order>,
}

/// What to do with a spoken order code, decided before any code is compared.
// A short-lived answer, matched at once: boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderCodeStep {
    /// No comparison is needed: commit `change` (if any) and answer `result`.
    Settled {
        /// What to commit first.
        change: Option<Change>,
        /// The answer.
        result: ConfirmResult,
    },
    /// Ask the code provider whether the spoken code is this order's.
    Compare {
        /// The pending order.
        order: Order,
        /// Its code's digest, when pod checks codes itself.
        digest: Option<CodeDigest>,
    },
}

/// The answer to a spoken order code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfirmResult {
    /// The code was right; the order is confirmed.
    Confirmed(Order),
    /// The code was wrong; the order still waits.
    WrongCode {
        /// The order after counting the wrong code.
        order: Order,
        /// Wrong codes it still takes before it is cancelled (≥ 1).
        attempts_left: u32,
    },
    /// The code was wrong once too often; the order is cancelled.
    TooManyAttempts(Order),
    /// The code's lifetime ran out; the order is cancelled.
    Expired(Order),
    /// No order waits for a code.
    NoPendingOrder,
    /// The account is locked after too many wrong codes: nothing was
    /// compared (or this wrong code engaged the lock, cancelling the order).
    Locked,
}

/// A comparison made for one pending order no longer applies: that order
/// was settled (or replaced) by a request that committed first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stale {
    /// The order the comparison was for.
    pub order: OrderId,
}

/// What to do with an entered sign-in code, decided before any comparison.
// A short-lived answer, matched at once: boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInStep {
    /// No comparison is needed: commit `change` (if any) and answer `result`.
    Settled {
        /// What to commit first.
        change: Option<Change>,
        /// The answer.
        result: SignInResult,
    },
    /// Ask the code provider whether the entered code is the current one.
    Compare {
        /// The code to compare against.
        code: SignInCode,
    },
}

/// The answer to an entered sign-in code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInResult {
    /// The code was right.
    SignedIn {
        /// Whether the account's run of failures had reached the lock limit
        /// (it is cleared now).
        unlocked: bool,
    },
    /// The code was wrong, or there is no code to compare against.
    WrongCode,
    /// The code's lifetime ran out.
    Expired,
    /// The code was wrong once too often; it is gone.
    TooManyAttempts,
    /// The account is locked after too many wrong codes; nothing was compared.
    Locked,
}

/// One customer's account: the pending order with its code, the sign-in
/// code, the send logs per purpose and the account lock.
///
/// Every transition takes `&self` and returns a [`Change`] holding the new
/// account with its version one higher; nothing changes in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    customer: CustomerId,
    version: u64,
    pending: Option<Order>,
    order_digest: Option<CodeDigest>,
    sign_in: Option<SignInCode>,
    order_sends: SendLog,
    sign_in_sends: SendLog,
    lockout: Lockout,
}

/// The stored parts of an account, for [`Account::restore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecord {
    /// Whose account.
    pub customer: CustomerId,
    /// The stored version (0: never stored).
    pub version: u64,
    /// The order awaiting its code, if any.
    pub pending: Option<Order>,
    /// The pending order's code digest (embedded mode).
    pub order_digest: Option<CodeDigest>,
    /// The current sign-in code, if any.
    pub sign_in: Option<SignInCode>,
    /// Order codes sent in the window.
    pub order_sends: SendLog,
    /// Sign-in codes sent in the window.
    pub sign_in_sends: SendLog,
    /// The lock.
    pub lockout: Lockout,
}

/// A stored account that breaks a rule the transitions keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidAccount(&'static str);

impl fmt::Display for InvalidAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for InvalidAccount {}

impl Account {
    /// The account of a customer never seen: version 0, nothing pending.
    pub fn new(customer: CustomerId) -> Account {
        Account {
            customer,
            version: 0,
            pending: None,
            order_digest: None,
            sign_in: None,
            order_sends: SendLog::default(),
            sign_in_sends: SendLog::default(),
            lockout: Lockout::default(),
        }
    }

    /// An account as a store kept it. The pending order must be the
    /// customer's and await its code.
    pub fn restore(record: AccountRecord) -> Result<Account, InvalidAccount> {
        if let Some(order) = &record.pending {
            if order.customer() != &record.customer {
                return Err(InvalidAccount("the pending order is another customer's"));
            }
            if order.awaiting().is_none() {
                return Err(InvalidAccount("the pending order does not await a code"));
            }
        }
        Ok(Account {
            customer: record.customer,
            version: record.version,
            pending: record.pending,
            order_digest: record.order_digest,
            sign_in: record.sign_in,
            order_sends: record.order_sends,
            sign_in_sends: record.sign_in_sends,
            lockout: record.lockout,
        })
    }

    /// Whose account.
    pub fn customer(&self) -> &CustomerId {
        &self.customer
    }

    /// Grows by one with every committed change; 0 for an account never stored.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The order awaiting its code, if any.
    pub fn pending(&self) -> Option<&Order> {
        self.pending.as_ref()
    }

    /// The pending order's code digest (embedded mode).
    pub fn order_digest(&self) -> Option<&CodeDigest> {
        self.order_digest.as_ref()
    }

    /// The current sign-in code.
    pub fn sign_in_code(&self) -> Option<&SignInCode> {
        self.sign_in.as_ref()
    }

    /// Order codes sent in the window.
    pub fn order_sends(&self) -> &SendLog {
        &self.order_sends
    }

    /// Sign-in codes sent in the window.
    pub fn sign_in_sends(&self) -> &SendLog {
        &self.sign_in_sends
    }

    /// The lock.
    pub fn lockout(&self) -> Lockout {
        self.lockout
    }

    /// Whether code checks and sends are refused at `now`.
    pub fn is_locked(&self, now: Timestamp, policy: &ConfirmationPolicy) -> bool {
        self.lockout.is_locked(now, policy)
    }

    /// Whether an order code may be sent at `now` (checked again, atomically,
    /// by [`Account::place_order`]).
    pub fn may_send_order_code(
        &self,
        now: Timestamp,
        policy: &ConfirmationPolicy,
    ) -> Result<(), SendRefusal> {
        self.may_send(&self.order_sends, policy.max_codes_per_hour(), now, policy)
    }

    /// Whether a sign-in code may be sent at `now` (checked again by
    /// [`Account::start_sign_in`]).
    pub fn may_send_sign_in_code(
        &self,
        now: Timestamp,
        policy: &ConfirmationPolicy,
    ) -> Result<(), SendRefusal> {
        self.may_send(
            &self.sign_in_sends,
            policy.max_sign_in_codes_per_hour(),
            now,
            policy,
        )
    }

    fn may_send(
        &self,
        log: &SendLog,
        budget: u32,
        now: Timestamp,
        policy: &ConfirmationPolicy,
    ) -> Result<(), SendRefusal> {
        if self.is_locked(now, policy) {
            Err(SendRefusal::Locked)
        } else if log.sent_in_window(now) >= budget {
            Err(SendRefusal::RateLimited)
        } else {
            Ok(())
        }
    }

    /// Places a new order whose code goes to `destination` right after the
    /// change is committed: supersedes the pending order, spends one order
    /// code from the budget, and keeps the code's digest when pod checks
    /// codes itself.
    pub fn place_order(
        &self,
        id: OrderId,
        pizza: Pizza,
        destination: &Destination,
        digest: Option<CodeDigest>,
        now: Timestamp,
        policy: &ConfirmationPolicy,
    ) -> Result<Placed, SendRefusal> {
        self.may_send_order_code(now, policy)?;
        let mut orders = Vec::with_capacity(2);
        let mut events = Vec::with_capacity(2);
        let mut superseded = None;
        if let Some(pending) = &self.pending
            && let Ok((cancelled, event)) = pending.cancel(CancelReason::Superseded, now)
        {
            orders.push(cancelled.clone());
            events.push(event);
            superseded = Some(cancelled);
        }
        let (order, placed) =
            Order::place(id, self.customer.clone(), pizza, destination, now, policy);
        orders.push(order.clone());
        events.push(placed);
        let account = Account {
            pending: Some(order.clone()),
            order_digest: digest,
            order_sends: self.order_sends.after_send(now),
            ..self.next()
        };
        Ok(Placed {
            change: Change {
                account,
                orders,
                events,
            },
            order,
            superseded,
        })
    }

    /// The code of order `id` could not be delivered: the order is cancelled
    /// (a code that never arrived must not confirm). The send still counts.
    /// `None` when that order no longer waits.
    pub fn order_code_not_delivered(&self, id: &OrderId, now: Timestamp) -> Option<Change> {
        let pending = self.pending.as_ref().filter(|o| o.id() == id)?;
        let (cancelled, event) = pending.cancel(CancelReason::CodeDeliveryFailed, now).ok()?;
        Some(self.settle_pending(cancelled, vec![event], self.lockout))
    }

    /// The customer cancels the pending order ("cancel my order", or
    /// `DELETE /api/orders/pending`): it is cancelled as
    /// [`CancelReason::CancelledByCustomer`] and its code's digest dropped,
    /// so the code can confirm nothing any more. The lock, the run of
    /// failures and the send logs are untouched (a cancel sends and compares
    /// nothing, so it is allowed while locked). `None` when no order waits.
    pub fn cancel_pending(&self, now: Timestamp) -> Option<Change> {
        let pending = self.pending.as_ref()?;
        let (cancelled, event) = pending
            .cancel(CancelReason::CancelledByCustomer, now)
            .ok()?;
        Some(self.settle_pending(cancelled, vec![event], self.lockout))
    }

    /// What to do with a spoken order code at `now`, before comparing it.
    pub fn order_code_step(&self, now: Timestamp, policy: &ConfirmationPolicy) -> OrderCodeStep {
        if self.is_locked(now, policy) {
            return OrderCodeStep::Settled {
                change: None,
                result: ConfirmResult::Locked,
            };
        }
        let Some(pending) = &self.pending else {
            return OrderCodeStep::Settled {
                change: None,
                result: ConfirmResult::NoPendingOrder,
            };
        };
        if pending.is_overdue(now) {
            // No comparison: the domain cancels an overdue order whatever was said.
            return match self.apply_order_check(pending.id(), CodeCheck::Expired, now, policy) {
                Ok((change, result)) => OrderCodeStep::Settled { change, result },
                Err(_) => OrderCodeStep::Settled {
                    change: None,
                    result: ConfirmResult::NoPendingOrder,
                },
            };
        }
        OrderCodeStep::Compare {
            order: pending.clone(),
            digest: self.order_digest.clone(),
        }
    }

    /// Applies the comparison of a spoken code with order `id`'s code.
    ///
    /// A right code in time confirms the order and ends the run of
    /// failures. A wrong code counts against the order (cancelled at the
    /// attempt limit) and against the account (locked at its limit, which
    /// also cancels the order). A provider's `Expired` cancels as expired, its
    /// `Locked` counts as a wrong code that cancels. [`Stale`] when order
    /// `id` no longer waits: the comparison was for a code that is gone.
    pub fn apply_order_check(
        &self,
        id: &OrderId,
        check: CodeCheck,
        now: Timestamp,
        policy: &ConfirmationPolicy,
    ) -> Result<(Option<Change>, ConfirmResult), Stale> {
        let stale = || Stale { order: id.clone() };
        let pending = self
            .pending
            .as_ref()
            .filter(|o| o.id() == id)
            .ok_or_else(stale)?;
        if self.is_locked(now, policy) {
            // Another request's wrong code locked the account first.
            return Ok((None, ConfirmResult::Locked));
        }
        let transition = pending
            .check_code(check, now, policy)
            .map_err(|_| stale())?;
        let counts_as_failure = transition.step != ConfirmStep::Expired
            && matches!(check, CodeCheck::Invalid | CodeCheck::Locked);
        let lockout = if counts_as_failure {
            self.lockout.after_failure(now, policy)
        } else if transition.step == ConfirmStep::Confirmed {
            Lockout::default()
        } else {
            self.lockout
        };
        let locked_now = lockout.is_locked(now, policy);
        let mut events: Vec<OrderEvent> = transition.event.into_iter().collect();
        let mut order = transition.order;
        if locked_now && order.awaiting().is_some() {
            // The lock stops every check, so the order could never be confirmed.
            let (cancelled, event) = order
                .cancel(CancelReason::TooManyAttempts, now)
                .map_err(|_| stale())?;
            order = cancelled;
            events.push(event);
        }
        let result = if locked_now {
            ConfirmResult::Locked
        } else {
            match transition.step {
                ConfirmStep::Confirmed => ConfirmResult::Confirmed(order.clone()),
                ConfirmStep::WrongCode { attempts_left } => ConfirmResult::WrongCode {
                    order: order.clone(),
                    attempts_left,
                },
                ConfirmStep::CancelledTooManyAttempts => {
                    ConfirmResult::TooManyAttempts(order.clone())
                }
                ConfirmStep::Expired => ConfirmResult::Expired(order.clone()),
            }
        };
        let change = if order.awaiting().is_some() {
            Change {
                account: Account {
                    pending: Some(order.clone()),
                    lockout,
                    ..self.next()
                },
                orders: vec![order],
                events,
            }
        } else {
            self.settle_pending(order, events, lockout)
        };
        Ok((Some(change), result))
    }

    /// Starts a sign-in whose code goes out right after the change is
    /// committed: spends one sign-in code from its own budget and replaces
    /// any earlier sign-in code.
    pub fn start_sign_in(
        &self,
        digest: Option<CodeDigest>,
        now: Timestamp,
        policy: &ConfirmationPolicy,
    ) -> Result<Change, SendRefusal> {
        self.may_send_sign_in_code(now, policy)?;
        let code = SignInCode {
            digest,
            issued_at: now,
            expires_at: now.plus(policy.code_lifetime()),
            failed_attempts: 0,
        };
        Ok(Change {
            account: Account {
                sign_in: Some(code),
                sign_in_sends: self.sign_in_sends.after_send(now),
                ..self.next()
            },
            orders: Vec::new(),
            events: Vec::new(),
        })
    }

    /// Spends one sign-in start from the budget of a client address, kept
    /// as the sign-in send log of a pseudo-account named for the address
    /// (`client|<address>`), so the brake holds across servers too.
    pub fn spend_client_start(&self, now: Timestamp, budget: u32) -> Result<Change, SendRefusal> {
        if self.sign_in_sends.sent_in_window(now) >= budget {
            return Err(SendRefusal::RateLimited);
        }
        Ok(Change {
            account: Account {
                sign_in_sends: self.sign_in_sends.after_send(now),
                ..self.next()
            },
            orders: Vec::new(),
            events: Vec::new(),
        })
    }

    /// The sign-in code issued at `issued_at` could not be delivered: it is
    /// forgotten. `None` when it was replaced meanwhile.
    pub fn sign_in_not_delivered(&self, issued_at: Timestamp) -> Option<Change> {
        self.sign_in.as_ref().filter(|c| c.issued_at == issued_at)?;
        Some(self.with_sign_in(None, self.lockout))
    }

    /// What to do with an entered sign-in code at `now`, before comparing it.
    pub fn sign_in_step(&self, now: Timestamp, policy: &ConfirmationPolicy) -> SignInStep {
        if self.is_locked(now, policy) {
            return SignInStep::Settled {
                change: None,
                result: SignInResult::Locked,
            };
        }
        match &self.sign_in {
            None => SignInStep::Settled {
                change: None,
                result: SignInResult::WrongCode,
            },
            Some(code) if now >= code.expires_at => SignInStep::Settled {
                change: Some(self.with_sign_in(None, self.lockout)),
                result: SignInResult::Expired,
            },
            Some(code) => SignInStep::Compare { code: code.clone() },
        }
    }

    /// Applies the comparison of an entered code with the sign-in code
    /// issued at `issued_at`. A right code signs in and ends the run of
    /// failures (lifting the lock); a wrong one counts against the code and
    /// the account alike. [`Stale`]-like `None` when that code is gone.
    pub fn apply_sign_in_check(
        &self,
        issued_at: Timestamp,
        check: CodeCheck,
        now: Timestamp,
        policy: &ConfirmationPolicy,
    ) -> Option<(Option<Change>, SignInResult)> {
        let code = self.sign_in.as_ref().filter(|c| c.issued_at == issued_at)?;
        if self.is_locked(now, policy) {
            return Some((None, SignInResult::Locked));
        }
        if now >= code.expires_at || check == CodeCheck::Expired {
            return Some((
                Some(self.with_sign_in(None, self.lockout)),
                SignInResult::Expired,
            ));
        }
        Some(match check {
            CodeCheck::Valid => {
                let unlocked = self.lockout.consecutive_failures >= policy.lockout_after();
                (
                    Some(self.with_sign_in(None, Lockout::default())),
                    SignInResult::SignedIn { unlocked },
                )
            }
            CodeCheck::Invalid | CodeCheck::Locked | CodeCheck::Expired => {
                let lockout = self.lockout.after_failure(now, policy);
                let failed = code.failed_attempts.saturating_add(1);
                let spent = failed >= policy.max_failed_attempts() || check == CodeCheck::Locked;
                let next_code = (!spent).then(|| SignInCode {
                    failed_attempts: failed,
                    ..code.clone()
                });
                let result = if lockout.is_locked(now, policy) {
                    SignInResult::Locked
                } else if spent {
                    SignInResult::TooManyAttempts
                } else {
                    SignInResult::WrongCode
                };
                (Some(self.with_sign_in(next_code, lockout)), result)
            }
        })
    }

    /// Ends the run of failures and lifts the lock: an operator's unlock, or
    /// a sign-in with another factor (an OpenID Connect login). `None` when
    /// there is nothing to lift.
    pub fn unlock(&self) -> Option<Change> {
        if self.lockout == Lockout::default() {
            return None;
        }
        Some(Change {
            account: Account {
                lockout: Lockout::default(),
                ..self.next()
            },
            orders: Vec::new(),
            events: Vec::new(),
        })
    }

    fn next(&self) -> Account {
        Account {
            version: self.version + 1,
            ..self.clone()
        }
    }

    fn with_sign_in(&self, sign_in: Option<SignInCode>, lockout: Lockout) -> Change {
        Change {
            account: Account {
                sign_in,
                lockout,
                ..self.next()
            },
            orders: Vec::new(),
            events: Vec::new(),
        }
    }

    fn settle_pending(&self, settled: Order, events: Vec<OrderEvent>, lockout: Lockout) -> Change {
        Change {
            account: Account {
                pending: None,
                order_digest: None,
                lockout,
                ..self.next()
            },
            orders: vec![settled],
            events,
        }
    }
}

#[cfg(test)]
mod tests;
