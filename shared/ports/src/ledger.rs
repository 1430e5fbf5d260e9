//! The ledger port: what the flows ask of the accounting system (Exact Online now, Sage Intacct next).
