//! The backend behaviour suite (being implemented).
