//! Accounts as rows of the `accounts` table, and back: the account and its
//! pending order are read together, in one row.

use pod_domain::{
    Account, AccountRecord, Change, CodeDigest, CustomerId, Lockout, SendLog, SignInCode, Timestamp,
};
use pod_ports::StoreError;

use super::orders::{OrderRow, order_from_row};
use super::{Columns, corrupt, count_u32, non_negative, to_bigint};

const T: &str = "accounts";

/// Separates the send times in `order_sends` and `sign_in_sends`.
const SEND_SEPARATOR: char = ',';

/// The account's columns as [`account_from_row`] reads them, `a` being the
/// alias of `accounts`; the pending order's `order_columns!` follow from
/// column [`ORDER_BASE`] on.
macro_rules! account_columns {
    () => {
        "a.version, a.consecutive_failures, a.locked_at, a.order_sends, a.sign_in_sends, \
         a.order_code_digest, a.sign_in_digest, a.sign_in_issued_at, a.sign_in_expires_at, \
         a.sign_in_failed_attempts"
    };
}
pub(crate) use account_columns;

/// One query, one row: the account (if stored) and the order awaiting its
/// code (if any, found through the partial unique index), each independent
/// of the other. `$customer` is the backend's placeholder for the customer
/// id, typed as text.
macro_rules! load_account_query {
    ($customer:literal) => {
        concat!(
            "SELECT ",
            $crate::rows::accounts::account_columns!(),
            ", ",
            $crate::rows::orders::order_columns!("o"),
            " FROM (SELECT ",
            $customer,
            " AS customer_id) AS k \
              LEFT JOIN accounts AS a ON a.customer_id = k.customer_id \
              LEFT JOIN orders AS o ON o.customer_id = k.customer_id \
                  AND o.state = 'awaiting_code'"
        )
    };
}
pub(crate) use load_account_query;

/// Where the pending order's columns start in a row of a backend's
/// `LOAD_ACCOUNT` query.
pub(crate) const ORDER_BASE: usize = 10;

fn join_times(log: &SendLog) -> String {
    let times: Vec<String> = log
        .times()
        .iter()
        .map(|t| t.unix_millis().to_string())
        .collect();
    times.join(&SEND_SEPARATOR.to_string())
}

fn parse_times(text: &str, key: &str, column: &str) -> Result<SendLog, StoreError> {
    if text.is_empty() {
        return Ok(SendLog::default());
    }
    let times = text
        .split(SEND_SEPARATOR)
        .map(|t| {
            t.parse::<i64>()
                .map(Timestamp::from_unix_millis)
                .map_err(|_| corrupt(T, key, column, "not a list of times"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SendLog::from_times(times))
}

/// An account as column values, owned, ready to bind.
#[derive(Debug)]
pub(crate) struct AccountRow {
    pub(crate) customer_id: String,
    pub(crate) version: i64,
    /// The version the stored row must have; `None`: no row may exist yet.
    pub(crate) expected: Option<i64>,
    pub(crate) consecutive_failures: i64,
    pub(crate) locked_at: Option<i64>,
    pub(crate) order_sends: String,
    pub(crate) sign_in_sends: String,
    pub(crate) order_code_digest: Option<Vec<u8>>,
    pub(crate) sign_in_digest: Option<Vec<u8>>,
    pub(crate) sign_in_issued_at: Option<i64>,
    pub(crate) sign_in_expires_at: Option<i64>,
    pub(crate) sign_in_failed_attempts: Option<i64>,
}

impl AccountRow {
    /// The row for `change`; `None` when the change cannot apply to any
    /// stored row (an expected version beyond what a BIGINT holds).
    fn of(change: &Change) -> Result<Option<Self>, StoreError> {
        let account = change.account();
        let expected = match change.expected_version() {
            0 => None,
            n => match i64::try_from(n) {
                Ok(n) => Some(n),
                Err(_) => return Ok(None),
            },
        };
        let sign_in = account.sign_in_code();
        Ok(Some(AccountRow {
            customer_id: account.customer().as_str().to_owned(),
            version: to_bigint(account.version(), "account version")?,
            expected,
            consecutive_failures: i64::from(account.lockout().consecutive_failures),
            locked_at: account.lockout().locked_at.map(Timestamp::unix_millis),
            order_sends: join_times(account.order_sends()),
            sign_in_sends: join_times(account.sign_in_sends()),
            order_code_digest: account.order_digest().map(|d| d.as_bytes().to_vec()),
            sign_in_digest: sign_in
                .and_then(|c| c.digest.as_ref())
                .map(|d| d.as_bytes().to_vec()),
            sign_in_issued_at: sign_in.map(|c| c.issued_at.unix_millis()),
            sign_in_expires_at: sign_in.map(|c| c.expires_at.unix_millis()),
            sign_in_failed_attempts: sign_in.map(|c| i64::from(c.failed_attempts)),
        }))
    }
}

/// What a commit writes: the account row and the orders of the change.
#[derive(Debug)]
pub(crate) struct ChangeRows {
    pub(crate) account: AccountRow,
    pub(crate) orders: Vec<OrderRow>,
}

impl ChangeRows {
    /// The rows of `change`. [`StoreError::Conflict`] when it cannot apply
    /// to any stored account (an expected version beyond a BIGINT) or
    /// writes another customer's order: an account's change writes only its
    /// own orders.
    pub(crate) fn of(change: &Change) -> Result<Self, StoreError> {
        let Some(account) = AccountRow::of(change)? else {
            return Err(StoreError::Conflict);
        };
        let orders = change
            .orders()
            .iter()
            .map(OrderRow::of)
            .collect::<Result<Vec<_>, _>>()?;
        if orders.iter().any(|o| o.customer_id != account.customer_id) {
            return Err(StoreError::Conflict);
        }
        Ok(ChangeRows { account, orders })
    }
}

/// Rebuilds an account from a row of a backend's `LOAD_ACCOUNT` query
/// ([`account_columns!`], then the pending order's columns).
pub(crate) fn account_from_row(
    customer: &CustomerId,
    row: &impl Columns,
) -> Result<Account, StoreError> {
    let key = customer.as_str();
    let pending = if row.is_null(ORDER_BASE)? {
        None
    } else {
        Some(order_from_row(row, ORDER_BASE)?)
    };
    let Some(version) = row.opt_int(0, T, "version")? else {
        // No account stored, but maybe an order awaiting its code (written
        // before accounts existed): a new account that knows it.
        return restore(AccountRecord {
            pending,
            ..record_of(Account::new(customer.clone()))
        });
    };
    let version = non_negative(version, T, key, "version")?;
    if version == 0 {
        return Err(corrupt(T, key, "version", "zero"));
    }
    let failures = row.int(1, T, "consecutive_failures")?;
    let locked_at = row.opt_int(2, T, "locked_at")?;
    let order_sends = row.text(3, T, "order_sends")?;
    let sign_in_sends = row.text(4, T, "sign_in_sends")?;
    let order_digest = row.opt_bytes(5, T, "order_code_digest")?;
    let sign_in_digest = row.opt_bytes(6, T, "sign_in_digest")?;
    let issued_at = row.opt_int(7, T, "sign_in_issued_at")?;
    let expires_at = row.opt_int(8, T, "sign_in_expires_at")?;
    let failed = row.opt_int(9, T, "sign_in_failed_attempts")?;
    let sign_in = match issued_at {
        None => None,
        Some(issued_at) => Some(SignInCode {
            digest: sign_in_digest.map(CodeDigest::new),
            issued_at: Timestamp::from_unix_millis(issued_at),
            expires_at: Timestamp::from_unix_millis(
                expires_at.ok_or_else(|| corrupt(T, key, "sign_in_expires_at", "missing"))?,
            ),
            failed_attempts: count_u32(
                failed.ok_or_else(|| corrupt(T, key, "sign_in_failed_attempts", "missing"))?,
                T,
                key,
                "sign_in_failed_attempts",
            )?,
        }),
    };
    restore(AccountRecord {
        customer: customer.clone(),
        version,
        pending,
        order_digest: order_digest.map(CodeDigest::new),
        sign_in,
        order_sends: parse_times(&order_sends, key, "order_sends")?,
        sign_in_sends: parse_times(&sign_in_sends, key, "sign_in_sends")?,
        lockout: Lockout {
            consecutive_failures: count_u32(failures, T, key, "consecutive_failures")?,
            locked_at: locked_at.map(Timestamp::from_unix_millis),
        },
    })
}

fn record_of(account: Account) -> AccountRecord {
    AccountRecord {
        customer: account.customer().clone(),
        version: account.version(),
        pending: account.pending().cloned(),
        order_digest: account.order_digest().cloned(),
        sign_in: account.sign_in_code().cloned(),
        order_sends: account.order_sends().clone(),
        sign_in_sends: account.sign_in_sends().clone(),
        lockout: account.lockout(),
    }
}

fn restore(record: AccountRecord) -> Result<Account, StoreError> {
    let key = record.customer.as_str().to_owned();
    Account::restore(record).map_err(|e| corrupt(T, &key, "(pending order)", &e.to_string()))
}
