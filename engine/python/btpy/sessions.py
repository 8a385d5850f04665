# SPDX-License-Identifier: MIT
"""sessions: civil dates, NYSE-like holiday rules and the table of trading sessions."""


def days_from_civil(year, month, day):
    """Days since 1970-01-01 of a proleptic Gregorian date."""
    y = year - (1 if month <= 2 else 0)
    era = y // 400
    yoe = y - era * 400
    mp = (month + 9) % 12
    doy = (153 * mp + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(days):
    """(year, month, day) of a day number."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (1 if month <= 2 else 0), month, day


def weekday(days):
    """0 = Sunday ... 6 = Saturday (1970-01-01 was a Thursday)."""
    return (days + 4) % 7


def _nth_weekday(year, month, wd, n):
    first = days_from_civil(year, month, 1)
    return first + (wd - weekday(first) + 7) % 7 + 7 * (n - 1)


def _last_weekday(year, month, wd):
    last = days_from_civil(year + 1 if month == 12 else year, month % 12 + 1, 1) - 1
    return last - (weekday(last) - wd + 7) % 7


def _observed(day):
    """Saturday holidays are observed on Friday, Sunday ones on Monday."""
    w = weekday(day)
    return day - 1 if w == 6 else day + 1 if w == 0 else day


def _easter_sunday(year):
    # Anonymous Gregorian computus.
    a, b, c = year % 19, year // 100, year % 100
    d, e, f = b // 4, b % 4, (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l) // 451
    month = (h + l - 7 * m + 114) // 31
    day = (h + l - 7 * m + 114) % 31 + 1
    return days_from_civil(year, month, day)


def is_holiday(days):
    y = civil_from_days(days)[0]
    new_year = days_from_civil(y, 1, 1)
    # A Saturday New Year is not moved back into the old year.
    if weekday(new_year) != 6 and days == _observed(new_year):
        return True
    if y >= 1998 and days == _nth_weekday(y, 1, 1, 3):
        return True
    if days == _nth_weekday(y, 2, 1, 3) or days == _easter_sunday(y) - 2:
        return True
    if days == _last_weekday(y, 5, 1):
        return True
    if y >= 2022 and days == _observed(days_from_civil(y, 6, 19)):
        return True
    if days == _observed(days_from_civil(y, 7, 4)):
        return True
    if days == _nth_weekday(y, 9, 1, 1) or days == _nth_weekday(y, 11, 4, 4):
        return True
    return days == _observed(days_from_civil(y, 12, 25))


def is_session(days):
    w = weekday(days)
    return w != 0 and w != 6 and not is_holiday(days)


def session_days(count, first=None):
    """Day numbers of the first `count` sessions on or after `first` (2000-01-03)."""
    day = days_from_civil(2000, 1, 3) if first is None else first
    out = []
    while len(out) < count:
        if is_session(day):
            out.append(day)
        day += 1
    return out


def iso_label(days):
    """'YYYY-MM-DD' of a day number; such labels sort in date order."""
    y, m, d = civil_from_days(days)
    return "%04d-%02d-%02d" % (y, m, d)


def ymd_label(days):
    """YYYYMMDD as an int."""
    y, m, d = civil_from_days(days)
    return y * 10000 + m * 100 + d
