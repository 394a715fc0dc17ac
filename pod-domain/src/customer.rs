use std::fmt;

/// The identity provider's id of a customer (`sub` of the access token), for
/// example `auth0|5a1b...` or `local|demo`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CustomerId(String);

/// A customer id was empty, too long or contained control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidCustomerId;

impl std::error::Error for InvalidCustomerId {}

impl fmt::Display for InvalidCustomerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a customer id must be 1 to 255 printable characters")
    }
}

impl CustomerId {
    /// The longest id accepted, in bytes.
    pub const MAX_LEN: usize = 255;

    /// Validates and wraps a customer id.
    pub fn parse(id: impl Into<String>) -> Result<Self, InvalidCustomerId> {
        let id = id.into();
        if id.is_empty() || id.len() > Self::MAX_LEN || id.chars().any(char::is_control) {
            return Err(InvalidCustomerId);
        }
        Ok(CustomerId(id))
    }

    /// The id as the identity provider spells it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CustomerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a one-time code reaches the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// A text message to the customer's phone.
    Sms,
    /// An email to the customer's address.
    Email,
}

impl Channel {
    /// A stable lowercase name (`sms`, `email`), used in storage and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Email => "email",
        }
    }

    /// The inverse of [`Channel::as_str`].
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "sms" => Some(Channel::Sms),
            "email" => Some(Channel::Email),
            _ => None,
        }
    }

    /// How speech names the place the code went ("phone", "email"), as the
    /// original skill said it.
    pub fn spoken_place(self) -> &'static str {
        match self {
            Channel::Sms => "phone",
            Channel::Email => "email",
        }
    }
}

/// Where a code goes: a channel and an address on it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Destination {
    channel: Channel,
    address: String,
}

impl fmt::Debug for Destination {
    // Addresses are personal data: debug output shows only the masked form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Destination")
            .field("channel", &self.channel)
            .field("address", &self.masked())
            .finish()
    }
}

impl Destination {
    /// A phone number for SMS.
    pub fn sms(phone: impl Into<String>) -> Self {
        Destination {
            channel: Channel::Sms,
            address: phone.into(),
        }
    }

    /// An email address.
    pub fn email(address: impl Into<String>) -> Self {
        Destination {
            channel: Channel::Email,
            address: address.into(),
        }
    }

    /// The channel.
    pub fn channel(&self) -> Channel {
        self.channel
    }

    /// The full address (phone number or email address).
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The address with most of it hidden, safe to show, say or log: phone
    /// numbers keep their last two digits (`***23`), email addresses their
    /// first letter and domain (`d***@example.com`).
    pub fn masked(&self) -> String {
        match self.channel {
            Channel::Sms => {
                let digits: Vec<char> = self.address.chars().filter(char::is_ascii_digit).collect();
                let tail: String = digits.iter().skip(digits.len().saturating_sub(2)).collect();
                format!("***{tail}")
            }
            Channel::Email => match self.address.split_once('@') {
                Some((local, domain)) => {
                    let first: String = local.chars().take(1).collect();
                    format!("{first}***@{domain}")
                }
                None => "***".to_owned(),
            },
        }
    }
}

/// What the identity provider knows about how to reach a customer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContactPoints {
    /// Email address, if any.
    pub email: Option<String>,
    /// Phone number, if any.
    pub phone: Option<String>,
}

impl ContactPoints {
    /// Where a code should go: SMS when there is a phone number, otherwise
    /// email, as the original skill chose. `None` when there is neither.
    pub fn preferred_destination(&self) -> Option<Destination> {
        let present = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        present(&self.phone)
            .map(Destination::sms)
            .or_else(|| present(&self.email).map(Destination::email))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_ids_are_validated() {
        assert!(CustomerId::parse("auth0|abc").is_ok());
        assert_eq!(CustomerId::parse(""), Err(InvalidCustomerId));
        assert_eq!(CustomerId::parse("a\nb"), Err(InvalidCustomerId));
        assert_eq!(CustomerId::parse("x".repeat(256)), Err(InvalidCustomerId));
    }

    #[test]
    fn phone_is_preferred_over_email() {
        let both = ContactPoints {
            email: Some("a@b.c".into()),
            phone: Some("+15550100".into()),
        };
        assert_eq!(
            both.preferred_destination().unwrap().channel(),
            Channel::Sms
        );
        let email_only = ContactPoints {
            email: Some("a@b.c".into()),
            phone: Some("  ".into()),
        };
        assert_eq!(
            email_only.preferred_destination().unwrap().channel(),
            Channel::Email
        );
        assert_eq!(ContactPoints::default().preferred_destination(), None);
    }

    #[test]
    fn masking_hides_most_of_the_address() {
        assert_eq!(Destination::sms("+1 (555) 010-0123").masked(), "***23");
        assert_eq!(
            Destination::email("demo@example.com").masked(),
            "d***@example.com"
        );
        assert_eq!(Destination::email("nonsense").masked(), "***");
        assert!(!format!("{:?}", Destination::email("demo@example.com")).contains("demo@"));
    }
}
