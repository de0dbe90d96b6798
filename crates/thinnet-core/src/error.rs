//! The one error type of the core. Bindings turn it into a thrown `ThinnetError` with the same
//! stable code, so a message is written once, here, where the check is made.

use std::fmt;

/// Stable error codes, shared with the TypeScript facade (`ThinnetError.code`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// An argument is out of its domain (p outside [0, 1], offset too large, unknown name...).
    InvalidArg,
    /// Array lengths disagree with each other or with the stated shape.
    ShapeMismatch,
    /// Something failed inside thinnet that no argument explains (a caught panic, a failed
    /// allocation): a bug to report.
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidArg => "ERR_INVALID_ARG",
            ErrorCode::ShapeMismatch => "ERR_SHAPE_MISMATCH",
            ErrorCode::Internal => "ERR_INTERNAL",
        }
    }

    /// Small integer form, for bindings that return a status (WASM exports). 0 means success.
    pub fn status(self) -> i32 {
        match self {
            ErrorCode::InvalidArg => 1,
            ErrorCode::ShapeMismatch => 2,
            ErrorCode::Internal => 3,
        }
    }
}

/// A rejected call: which argument, and a message saying what was expected and what was received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
}

impl Error {
    pub fn invalid_arg(message: String) -> Error {
        Error { code: ErrorCode::InvalidArg, message }
    }

    pub fn shape_mismatch(message: String) -> Error {
        Error { code: ErrorCode::ShapeMismatch, message }
    }

    pub fn internal(message: String) -> Error {
        Error { code: ErrorCode::Internal, message }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for Error {}
