//! [`AccountStore`] on the `accounts` and `orders` tables.

use async_trait::async_trait;
use pod_domain::{
    Account, AccountRecord, Change, CodeDigest, CustomerId, Lockout, Order, OrderId, SendLog,
    SignInCode, Timestamp,
};
use pod_ports::{AccountStore, StoreError};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, Row, ToSql, params};

use crate::SqlStore;
use crate::error::{column, corrupt, count_u32, db_error, non_negative, to_bigint};
use crate::orders::{OrderRow, order_columns, order_from_row};

const T: &str = "accounts";

/// Separates the send times in `order_sends` and `sign_in_sends`.
const SEND_SEPARATOR: char = ',';

/// Where the pending order's columns start in a row of [`LOAD_ACCOUNT`].
const ORDER_BASE: usize = 10;

/// One query, one row: the account (if stored) and the order awaiting its
/// code (if any, found through the partial unique index), each independent
/// of the other. The account's columns, then the pending order's
/// [`order_columns!`] from column [`ORDER_BASE`] on.
const LOAD_ACCOUNT: &str = concat!(
    "SELECT a.version, a.consecutive_failures, a.locked_at, a.order_sends, a.sign_in_sends, \
         a.order_code_digest, a.sign_in_digest, a.sign_in_issued_at, a.sign_in_expires_at, \
         a.sign_in_failed_attempts, ",
    order_columns!("o"),
    " FROM (SELECT ?1 AS customer_id) AS k \
      LEFT JOIN accounts AS a ON a.customer_id = k.customer_id \
      LEFT JOIN orders AS o ON o.customer_id = k.customer_id AND o.state = 'awaiting_code'"
);

const ORDER_BY_ID: &str = concat!("SELECT ", order_columns!(), " FROM orders WHERE id = ?1");

/// Newest first; the index on (customer_id, placed_at, id) read backwards.
const ORDERS_OF: &str = concat!(
    "SELECT ",
    order_columns!(),
    " FROM orders WHERE customer_id = ?1 ORDER BY placed_at DESC, id DESC"
);

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

/// An account as column values, owned, ready to bind on the writer thread.
#[derive(Debug)]
struct AccountRow {
    customer_id: String,
    version: i64,
    /// The version the stored row must have; `None`: no row may exist yet.
    expected: Option<i64>,
    consecutive_failures: i64,
    locked_at: Option<i64>,
    order_sends: String,
    sign_in_sends: String,
    order_code_digest: Option<Vec<u8>>,
    sign_in_digest: Option<Vec<u8>>,
    sign_in_issued_at: Option<i64>,
    sign_in_expires_at: Option<i64>,
    sign_in_failed_attempts: Option<i64>,
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

    /// Writes the row if the stored version is the expected one (or, for a
    /// first change, if there is no row yet); [`StoreError::Conflict`] if not.
    fn write(&self, conn: &Connection) -> Result<(), StoreError> {
        let written = match self.expected {
            None => conn
                .prepare_cached(
                    "INSERT INTO accounts (customer_id, version, consecutive_failures, \
                         locked_at, order_sends, sign_in_sends, order_code_digest, \
                         sign_in_digest, sign_in_issued_at, sign_in_expires_at, \
                         sign_in_failed_attempts) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
                     ON CONFLICT (customer_id) DO NOTHING",
                )
                .and_then(|mut s| s.execute(&*self.params(None)))
                .map_err(db_error)?,
            Some(expected) => conn
                .prepare_cached(
                    "UPDATE accounts SET version = ?2, consecutive_failures = ?3, \
                         locked_at = ?4, order_sends = ?5, sign_in_sends = ?6, \
                         order_code_digest = ?7, sign_in_digest = ?8, sign_in_issued_at = ?9, \
                         sign_in_expires_at = ?10, sign_in_failed_attempts = ?11 \
                     WHERE customer_id = ?1 AND version = ?12",
                )
                .and_then(|mut s| s.execute(&*self.params(Some(&expected))))
                .map_err(db_error)?,
        };
        if written == 0 {
            return Err(StoreError::Conflict);
        }
        Ok(())
    }

    /// `?1` to `?11`, and `?12` when `expected` is given.
    fn params<'a>(&'a self, expected: Option<&'a i64>) -> Vec<&'a dyn ToSql> {
        let mut values: Vec<&dyn ToSql> = params![
            self.customer_id,
            self.version,
            self.consecutive_failures,
            self.locked_at,
            self.order_sends,
            self.sign_in_sends,
            self.order_code_digest,
            self.sign_in_digest,
            self.sign_in_issued_at,
            self.sign_in_expires_at,
            self.sign_in_failed_attempts,
        ]
        .to_vec();
        if let Some(expected) = expected {
            values.push(expected);
        }
        values
    }
}

/// Rebuilds an account from a row of [`LOAD_ACCOUNT`].
fn account_from_row(customer: &CustomerId, row: &Row<'_>) -> Result<Account, StoreError> {
    let key = customer.as_str();
    let pending = match row.get_ref(ORDER_BASE).map_err(db_error)? {
        ValueRef::Null => None,
        _ => Some(order_from_row(row, ORDER_BASE)?),
    };
    let version: Option<i64> = column(row, 0, T, "version")?;
    let Some(version) = version else {
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
    let failures: i64 = column(row, 1, T, "consecutive_failures")?;
    let locked_at: Option<i64> = column(row, 2, T, "locked_at")?;
    let order_sends: String = column(row, 3, T, "order_sends")?;
    let sign_in_sends: String = column(row, 4, T, "sign_in_sends")?;
    let order_digest: Option<Vec<u8>> = column(row, 5, T, "order_code_digest")?;
    let sign_in_digest: Option<Vec<u8>> = column(row, 6, T, "sign_in_digest")?;
    let issued_at: Option<i64> = column(row, 7, T, "sign_in_issued_at")?;
    let expires_at: Option<i64> = column(row, 8, T, "sign_in_expires_at")?;
    let failed: Option<i64> = column(row, 9, T, "sign_in_failed_attempts")?;
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

fn orders_from(conn: &Connection, sql: &str, param: &str) -> Result<Vec<Order>, StoreError> {
    let mut statement = conn.prepare_cached(sql).map_err(db_error)?;
    let mut rows = statement.query([param]).map_err(db_error)?;
    let mut orders = Vec::new();
    while let Some(row) = rows.next().map_err(db_error)? {
        orders.push(order_from_row(row, 0)?);
    }
    Ok(orders)
}

#[async_trait]
impl AccountStore for SqlStore {
    async fn load_account(&self, customer: &CustomerId) -> Result<Account, StoreError> {
        self.engine.read(|conn| {
            let mut statement = conn.prepare_cached(LOAD_ACCOUNT).map_err(db_error)?;
            let mut rows = statement.query([customer.as_str()]).map_err(db_error)?;
            match rows.next().map_err(db_error)? {
                Some(row) => account_from_row(customer, row),
                None => Ok(Account::new(customer.clone())),
            }
        })
    }

    async fn commit(&self, change: &Change) -> Result<(), StoreError> {
        let Some(account) = AccountRow::of(change)? else {
            return Err(StoreError::Conflict);
        };
        let orders = change
            .orders()
            .iter()
            .map(OrderRow::of)
            .collect::<Result<Vec<_>, _>>()?;
        if orders
            .iter()
            .any(|o| o.customer_id() != account.customer_id)
        {
            // An account's change writes only its own orders.
            return Err(StoreError::Conflict);
        }
        self.engine
            .write(move |conn| {
                account.write(conn)?;
                for order in &orders {
                    order.upsert(conn)?;
                }
                Ok(())
            })
            .await
    }

    async fn order(&self, id: &OrderId) -> Result<Option<Order>, StoreError> {
        self.engine.read(|conn| {
            let orders = orders_from(conn, ORDER_BY_ID, id.as_str())?;
            Ok(orders.into_iter().next())
        })
    }

    async fn orders_of(&self, customer: &CustomerId) -> Result<Vec<Order>, StoreError> {
        self.engine
            .read(|conn| orders_from(conn, ORDERS_OF, customer.as_str()))
    }

    async fn clear_confirmed(&self, customer: &CustomerId) -> Result<u64, StoreError> {
        let customer = customer.as_str().to_owned();
        self.engine
            .write(move |conn| {
                let deleted = conn
                    .prepare_cached(
                        "DELETE FROM orders WHERE customer_id = ?1 AND state = 'confirmed'",
                    )
                    .and_then(|mut s| s.execute([&customer]))
                    .map_err(db_error)?;
                Ok(deleted as u64)
            })
            .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.engine.ping()
    }
}
