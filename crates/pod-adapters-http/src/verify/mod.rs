//! Alexa request verification (being written).
