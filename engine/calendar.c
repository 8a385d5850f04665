/* SPDX-License-Identifier: MIT */
/* calendar: civil dates, NYSE-like holiday rules and the table of trading sessions. */
#include "bte.h"

#include <errno.h>
#include <stdlib.h>

struct bte_calendar {
    size_t count;
    int32_t *days;
};

static int32_t floor_div(int32_t a, int32_t b)
{
    return (a >= 0 ? a : a - b + 1) / b;
}

int32_t bte_days_from_civil(int year, unsigned month, unsigned day)
{
    /* Shift the year to start in March so the leap day is last. */
    int32_t y = year - (month <= 2);
    int32_t era = floor_div(y, 400);
    int32_t yoe = y - era * 400;
    int32_t mp = (int32_t)(month + 9) % 12;
    int32_t doy = (153 * mp + 2) / 5 + (int32_t)day - 1;
    int32_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int32_t days, int *year, unsigned *month, unsigned *day)
{
    int32_t z = days + 719468;
    int32_t era = floor_div(z, 146097);
    int32_t doe = z - era * 146097;
    int32_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int32_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int32_t mp = (5 * doy + 2) / 153;
    *day = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *month = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *year = (int)(yoe + era * 400 + (*month <= 2));
}

uint32_t bte_civil_from_days(int32_t days)
{
    int y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    return (uint32_t)y * 10000u + m * 100u + d;
}

/* 0 = Sunday ... 6 = Saturday (1970-01-01 was a Thursday). */
static int weekday(int32_t days)
{
    int32_t w = (days + 4) % 7;
    return w < 0 ? w + 7 : w;
}

static int32_t nth_weekday(int year, unsigned month, int wd, int n)
{
    int32_t first = bte_days_from_civil(year, month, 1);
    int32_t offset = (wd - weekday(first) + 7) % 7;
    return first + offset + 7 * (n - 1);
}

static int32_t last_weekday(int year, unsigned month, int wd)
{
    int32_t next = bte_days_from_civil(month == 12 ? year + 1 : year, month % 12 + 1, 1);
    int32_t last = next - 1;
    return last - (weekday(last) - wd + 7) % 7;
}

/* Saturday holidays are observed on Friday, Sunday ones on Monday. */
static int32_t observed(int32_t day)
{
    int w = weekday(day);
    return w == 6 ? day - 1 : w == 0 ? day + 1 : day;
}

static int32_t easter_sunday(int year)
{
    /* Anonymous Gregorian computus. */
    int a = year % 19, b = year / 100, c = year % 100;
    int d = b / 4, e = b % 4, f = (b + 8) / 25, g = (b - f + 1) / 3;
    int h = (19 * a + b - d - g + 15) % 30;
    int i = c / 4, k = c % 4;
    int l = (32 + 2 * e + 2 * i - h - k) % 7;
    int m = (a + 11 * h + 22 * l) / 451;
    int month = (h + l - 7 * m + 114) / 31;
    int day = (h + l - 7 * m + 114) % 31 + 1;
    return bte_days_from_civil(year, (unsigned)month, (unsigned)day);
}

bool bte_is_holiday(int32_t days)
{
    int y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    int32_t new_year = bte_days_from_civil(y, 1, 1);
    /* A Saturday New Year is not moved back into the old year. */
    if (weekday(new_year) != 6 && days == observed(new_year))
        return true;
    if (y >= 1998 && days == nth_weekday(y, 1, 1, 3))
        return true;
    if (days == nth_weekday(y, 2, 1, 3) || days == easter_sunday(y) - 2)
        return true;
    if (days == last_weekday(y, 5, 1))
        return true;
    if (y >= 2022 && days == observed(bte_days_from_civil(y, 6, 19)))
        return true;
    if (days == observed(bte_days_from_civil(y, 7, 4)))
        return true;
    if (days == nth_weekday(y, 9, 1, 1) || days == nth_weekday(y, 11, 4, 4))
        return true;
    return days == observed(bte_days_from_civil(y, 12, 25));
}

bool bte_is_session(int32_t days)
{
    int w = weekday(days);
    return w != 0 && w != 6 && !bte_is_holiday(days);
}

struct bte_calendar *bte_calendar_new(int32_t first_day, size_t count)
{
    struct bte_calendar *cal = NULL;
    if (count == 0 || count > (size_t)INT32_MAX / 2) {
        errno = EINVAL;
        goto out;
    }
    cal = calloc(1, sizeof(*cal));
    if (!cal)
        goto out;
    cal->days = malloc(count * sizeof(*cal->days));
    if (!cal->days) {
        free(cal);
        cal = NULL;
        errno = ENOMEM;
        goto out;
    }
    int32_t day = first_day;
    while (cal->count < count) {
        if (bte_is_session(day))
            cal->days[cal->count++] = day;
        day++;
    }
out:
    return cal;
}

void bte_calendar_free(struct bte_calendar *cal)
{
    if (!cal)
        return;
    free(cal->days);
    free(cal);
}

size_t bte_calendar_count(const struct bte_calendar *cal)
{
    return cal->count;
}

int32_t bte_calendar_day(const struct bte_calendar *cal, size_t index)
{
    return cal->days[index];
}

long bte_calendar_index(const struct bte_calendar *cal, int32_t day)
{
    size_t lo = 0, hi = cal->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cal->days[mid] < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < cal->count && cal->days[lo] == day)
        return (long)lo;
    return -ENOENT;
}
