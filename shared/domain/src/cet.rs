//! Exact Online's clock: every `/Date(ms)/` value carries **CET semantics** (reference §1.7: "This is in the CET
//! time and not GMT"). The milliseconds are the Dutch wall-clock time (Europe/Amsterdam: CET, UTC+1, in winter;
//! CEST, UTC+2, in summer) written as if it were UTC. Date-only fields are local midnight encoded as UTC
//! midnight; a payment at 00:30 CEST on 1 June is `/Date(<2024-06-01T00:30:00Z>)/`, not the instant
//! 2024-05-31T22:30:00Z. Dates sent without a zone are read as that same wall-clock time.
//!
//! Both the emulator and the client convert through this module, explicitly, at the edge: a UTC instant becomes
//! a wall-clock time with [`wall_from_utc`], a wall-clock time becomes an instant with [`utc_from_wall`].
//!
//! The rule is the EU's (in force since 1996, which is every date Exact holds for Ledgerlink): summer time
//! starts on the last Sunday of March at 01:00 UTC and ends on the last Sunday of October at 01:00 UTC. The
//! rule is computed, not looked up, so there is no time-zone database to keep current.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc, Weekday};

const CET_OFFSET_SECS: i64 = 3600;
const CEST_OFFSET_SECS: i64 = 7200;

fn last_sunday(year: i32, month: u32) -> NaiveDate {
    let first_of_next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    }
    .unwrap_or(NaiveDate::MIN);
    let last = first_of_next.pred_opt().unwrap_or(first_of_next);
    let back = last.weekday().num_days_from_sunday();
    last - Duration::days(i64::from(back))
}

/// The instants (UTC) summer time starts and ends in `year`.
pub fn summer_time(year: i32) -> (DateTime<Utc>, DateTime<Utc>) {
    let at_one = |d: NaiveDate| Utc.from_utc_datetime(&d.and_hms_opt(1, 0, 0).unwrap_or_default());
    (at_one(last_sunday(year, 3)), at_one(last_sunday(year, 10)))
}

/// Seconds the Dutch wall clock is ahead of UTC at `at`: 3600 (CET) or 7200 (CEST).
pub fn offset_secs(at: DateTime<Utc>) -> i64 {
    let (start, end) = summer_time(at.year());
    if at >= start && at < end {
        CEST_OFFSET_SECS
    } else {
        CET_OFFSET_SECS
    }
}

/// The Dutch wall-clock time at instant `at`.
pub fn wall_from_utc(at: DateTime<Utc>) -> NaiveDateTime {
    at.naive_utc() + Duration::seconds(offset_secs(at))
}

/// The Dutch calendar date at instant `at` (the date Exact books a payment registered then on).
pub fn date_at(at: DateTime<Utc>) -> NaiveDate {
    wall_from_utc(at).date()
}

/// The instant a Dutch wall-clock time denotes. In the autumn hour that occurs twice (02:00–03:00 on the last
/// Sunday of October) the first, summer-time, occurrence is taken; a time in the spring hour that does not
/// exist (02:00–03:00 on the last Sunday of March) is read with the winter offset, i.e. as the instant an hour
/// later on the summer clock, as Windows/.NET conversions do.
pub fn utc_from_wall(wall: NaiveDateTime) -> DateTime<Utc> {
    let summer = Utc.from_utc_datetime(&(wall - Duration::seconds(CEST_OFFSET_SECS)));
    if offset_secs(summer) == CEST_OFFSET_SECS {
        return summer;
    }
    Utc.from_utc_datetime(&(wall - Duration::seconds(CET_OFFSET_SECS)))
}

/// The `/Date(ms)/` milliseconds Exact writes for instant `at` (wall-clock time as if UTC).
pub fn exact_ms(at: DateTime<Utc>) -> i64 {
    wall_from_utc(at).and_utc().timestamp_millis()
}

/// The instant a `/Date(ms)/` value written by Exact denotes; `None` when out of range.
pub fn instant_from_exact_ms(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms).map(|d| utc_from_wall(d.naive_utc()))
}

/// Whether `day` is a Sunday on which the Dutch clock changes.
pub fn is_transition_day(day: NaiveDate) -> bool {
    day.weekday() == Weekday::Sun
        && (day == last_sunday(day.year(), 3) || day == last_sunday(day.year(), 10))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }
    fn wall(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").unwrap()
    }

    #[test]
    fn summer_time_starts_and_ends_on_the_eu_sundays_at_one_utc() {
        // Published Europe/Amsterdam transitions.
        for (year, start, end) in [
            (2021, "2021-03-28T01:00:00Z", "2021-10-31T01:00:00Z"),
            (2024, "2024-03-31T01:00:00Z", "2024-10-27T01:00:00Z"),
            (2025, "2025-03-30T01:00:00Z", "2025-10-26T01:00:00Z"),
            (2026, "2026-03-29T01:00:00Z", "2026-10-25T01:00:00Z"),
            (2027, "2027-03-28T01:00:00Z", "2027-10-31T01:00:00Z"),
        ] {
            assert_eq!(summer_time(year), (utc(start), utc(end)), "{year}");
        }
    }

    #[test]
    fn instants_around_the_transitions_get_the_right_offset() {
        assert_eq!(offset_secs(utc("2024-03-31T00:59:59Z")), 3600);
        assert_eq!(offset_secs(utc("2024-03-31T01:00:00Z")), 7200);
        assert_eq!(offset_secs(utc("2024-10-27T00:59:59Z")), 7200);
        assert_eq!(offset_secs(utc("2024-10-27T01:00:00Z")), 3600);
        assert_eq!(offset_secs(utc("2024-01-31T23:30:00Z")), 3600);
        assert_eq!(offset_secs(utc("2024-07-31T22:30:00Z")), 7200);
    }

    #[test]
    fn a_payment_at_half_past_midnight_dutch_time_is_on_the_next_utc_day_and_next_month() {
        // 00:30 CEST on 1 June = 22:30 UTC on 31 May.
        assert_eq!(
            date_at(utc("2024-05-31T22:30:00Z")),
            NaiveDate::from_ymd_opt(2024, 6, 1).unwrap()
        );
        // 00:30 CET on 1 February = 23:30 UTC on 31 January.
        assert_eq!(
            date_at(utc("2024-01-31T23:30:00Z")),
            NaiveDate::from_ymd_opt(2024, 2, 1).unwrap()
        );
        // 23:30 CET on 31 December stays in the old year.
        assert_eq!(
            date_at(utc("2024-12-31T22:30:00Z")),
            NaiveDate::from_ymd_opt(2024, 12, 31).unwrap()
        );
        assert_eq!(
            date_at(utc("2024-12-31T23:00:00Z")),
            NaiveDate::from_ymd_opt(2025, 1, 1).unwrap()
        );
    }

    #[test]
    fn wall_clock_round_trips_except_in_the_hours_the_clock_skips_or_repeats() {
        for s in [
            "2024-05-31T22:30:00Z",
            "2024-01-31T23:30:00Z",
            "2024-03-31T00:59:59Z",
            "2024-03-31T01:00:00Z",
            "2024-10-27T00:30:00Z",
            "2024-10-27T02:00:00Z",
        ] {
            let at = utc(s);
            assert_eq!(utc_from_wall(wall_from_utc(at)), at, "{s}");
        }
        // 02:30 on 27 October 2024 happened twice: the summer-time one is taken.
        assert_eq!(
            utc_from_wall(wall("2024-10-27T02:30:00")),
            utc("2024-10-27T00:30:00Z")
        );
        // The winter-time 02:30 (01:30 UTC) shows the same wall-clock time.
        assert_eq!(
            wall_from_utc(utc("2024-10-27T01:30:00Z")),
            wall("2024-10-27T02:30:00")
        );
        // 02:30 on 31 March 2024 never happened on the Dutch clock: read with the winter offset.
        assert_eq!(
            utc_from_wall(wall("2024-03-31T02:30:00")),
            utc("2024-03-31T01:30:00Z")
        );
    }

    #[test]
    fn exact_milliseconds_are_the_wall_clock_time_written_as_utc() {
        let at = utc("2024-05-31T22:30:00Z");
        assert_eq!(exact_ms(at), utc("2024-06-01T00:30:00Z").timestamp_millis());
        assert_eq!(instant_from_exact_ms(exact_ms(at)), Some(at));
        assert!(is_transition_day(
            NaiveDate::from_ymd_opt(2026, 3, 29).unwrap()
        ));
        assert!(!is_transition_day(
            NaiveDate::from_ymd_opt(2026, 3, 22).unwrap()
        ));
    }
}
