//! The PSA port: what the flows ask of the project-accounting system (Deltek Vantagepoint).
