"""How often things happen to simulated children: the generator's proportions.

Approximate, from the DfE's Children in need statistics (England, 2024 and 2025); see
docs/simulation.md. Kept apart from the generator so a council can read and tune them.
"""

from __future__ import annotations

# --- proportions (approximate, from DfE Children in need statistics, England 2024 and 2025) -----

# Source of referral (CIN census code): police ~29%, schools ~21%, health ~15%, local authority
# services ~13%, individuals ~7%, other ~5%, other legal agency ~3%, education services ~2%,
# housing, anonymous, unknown.
REFERRAL_SOURCES: dict[str, float] = {
    "6": 29.0, "2A": 27.5, "2B": 1.5,
    "3A": 2.0, "3B": 2.0, "3C": 0.5, "3D": 3.0, "3E": 3.5, "3F": 4.0,
    "5A": 3.0, "5B": 4.5, "5C": 1.0, "5D": 4.5,
    "1A": 4.0, "1B": 1.0, "1C": 1.5, "1D": 0.5,
    "8": 5.0, "7": 3.0, "4": 1.5, "9": 1.5, "10": 2.0,
}
# Sources that cannot refer a child who is not at school yet (the schools' weight above is for
# children of school age, so that schools make about a fifth of all referrals).
SCHOOL_SOURCES = {"2A", "3C"}
# Referrals ending in no further action.
NFA_RATE = 0.08
# A closed episode is followed by a new referral 1 week to 11 months later with this chance: about
# a fifth of the simulated referrals are then re-referrals within 12 months of the previous
# referral (published: ~22% of referrals).
RE_REFERRAL_RATE = 0.6
MAX_EPISODES = 3
# A strategy discussion straight away at the referral (the assessment runs alongside the
# enquiry); otherwise the assessment comes first. Together with the enquiries after an
# assessment and during child in need plans, about a third of referrals lead to a section 47
# enquiry.
S47_AT_REFERRAL = 0.26
# After an assessment (no enquiry yet): closed with no further action (RC8), closed and referred
# to early help (RC9), a child in need plan, or a strategy discussion. About 3 in 10 assessed
# children are found not to be in need.
AFTER_ASSESSMENT: dict[str, float] = {"close_rc8": 0.36, "close_rc9": 0.17, "cin_plan": 0.36,
                                      "s47": 0.11}
# A second assessment alongside an enquiry that follows an assessment or starts during a plan.
ALONGSIDE_LATER = 0.35
# About 38% of section 47 enquiries lead to an initial child protection conference, and about
# 87% of conferences to a child protection plan.
ICPC_RATE = 0.38
CP_PLAN_RATE = 0.87
# Working days from the strategy discussion (start of the section 47 enquiry) to the initial
# conference: DfE Characteristics of children in need 2025, table C4 (England): 0-10 days 8.7%,
# 11-15 days 72.7%, 16-20 days 8.9%, 21 days or more 9.7%; quartiles 13, 14, 15 days.
ICPC_DAYS: dict[tuple[int, int], float] = {(2, 10): 8.7, (11, 15): 72.7, (16, 20): 8.9,
                                          (21, 35): 9.7}
# Within 11-15 working days (so that the quartiles are 13, 14 and 15 days).
ICPC_DAYS_11_15: dict[int, float] = {11: 6.0, 12: 8.0, 13: 18.0, 14: 30.0, 15: 38.0}
# After an enquiry without a plan, outside a child in need plan: a child in need plan or closure.
CIN_AFTER_S47 = 0.45
# Initial category of abuse of child protection plans: neglect about half, emotional abuse about
# a third.
ABUSE_CATEGORIES: dict[str, float] = {"NEG": 48.0, "EMO": 37.0, "PHY": 7.0, "SAB": 4.0,
                                      "MUL": 4.0}
LATEST_SAME_CATEGORY = 0.8
# How long child protection plans last (months, from start to end): DfE Characteristics of
# children in need 2025, table D7 (plans ended in the year, England): 3 months or less 15.9%,
# more than 3 up to 6 months 11.0%, more than 6 months up to 1 year 43.5%, 1 up to 2 years
# 25.2%, 2 years or more 4.4%.
CP_PLAN_MONTHS: dict[tuple[int, int], float] = {(0, 3): 15.9, (3, 6): 11.0, (6, 12): 43.5,
                                               (12, 24): 25.2, (24, 36): 4.4}
# Drawn lengths corrected so that the plans ending in the year come out with the shares above
# (fitted on 30,000 children, seeds 1 and 7).
CP_PLAN_FIT: dict[tuple[int, int], float] = {(0, 3): 1.15, (3, 6): 1.0, (6, 12): 0.98,
                                            (12, 24): 0.92, (24, 36): 0.85}
REVIEWS_ON_TIME = 0.9
# A plan ends at a review conference (one falling in the length drawn), otherwise between reviews.
PLAN_ENDS_AT_REVIEW = 0.8
# A child who gets a child protection plan of some length is first referred at an even rate from
# the year's start less that length less this many months, so that the plans ending in the year
# have the lengths plans are drawn with (not only short ones).
CP_LEAD_MONTHS = 2
# A child whose episode leads to a plan had an earlier plan (an episode 1-5 years before):
# DfE Characteristics of children in need 2025 (table D3): about 23% of the plans that start in
# the year are second or later plans. Re-referrals within the simulation add a few more.
EARLIER_PLAN = 0.27
# When a child protection plan ends: step down to a child in need plan, or close.
STEP_DOWN = 0.55
# A child in need plan escalates to a strategy discussion.
CIN_ESCALATES = 0.05
# Working days from the start of an assessment to its authorisation: DfE Characteristics of
# children in need 2025, table C2 (England): same day 1.8%, 1-10 days 11.7%, 11-20 17.3%,
# 21-30 15.8%, 31-40 20.2%, 41-45 18.9%, 46-50 5.8%, 51-60 4.3%, 61 or more 4.2%.
ASSESSMENT_DAYS: dict[tuple[int, int], float] = {
    (0, 0): 1.8, (1, 10): 11.7, (11, 20): 17.3, (21, 30): 15.8, (31, 40): 20.2, (41, 45): 18.9,
    (46, 50): 5.8, (51, 60): 4.3, (61, 90): 4.2}
# Primary need at assessment: abuse or neglect ~57%, family dysfunction ~14%, disability ~9%.
PRIMARY_NEEDS: dict[str, float] = {
    "N1": 57.0, "N5": 14.0, "N2": 9.0, "N4": 7.0, "N8": 4.0, "N3": 3.5, "N6": 3.0, "N9": 2.0,
    "N7": 0.3, "N0": 0.2,
}
# Factors identified at assessment (weights ~ share of assessments where each is recorded).
FACTORS: dict[str, float] = {
    "3B": 30.0, "4B": 30.0, "17A": 21.0, "3A": 18.0, "16A": 17.0, "2B": 14.0, "1B": 13.0,
    "4A": 13.0, "20": 10.0, "18C": 7.0, "15A": 6.0, "5A": 5.0, "10A": 4.0, "14A": 4.0,
    "11A": 3.0, "24A": 3.0, "19C": 3.0, "6A": 3.0, "6B": 3.0, "3C": 2.0, "2A": 2.0, "5B": 2.0,
    "13A": 1.5, "18B": 1.5, "19B": 1.5, "7A": 1.0, "9A": 1.0, "4C": 1.0, "1A": 1.0,
    "12A": 0.5, "23A": 0.3, "22A": 0.2, "8E": 0.2,
}
CATEGORY_FACTOR = {"NEG": "16A", "EMO": "17A", "PHY": "18C", "SAB": "19C"}
# "No factors identified" (21) on assessments closed with no further action.
NO_FACTORS_WHEN_NFA = 0.45
# Closure after a child in need or child protection plan.
CLOSURE_REASONS: dict[str, float] = {"RC7": 88.0, "RC5": 6.0, "RC3": 3.0, "RC4": 3.0}
# Children: ~1.5% still unborn on 31 March (3% are unborn when first referred, about half of them
# born by 31 March, when they count as born children); ages at referral; ~52% boys.
UNBORN = 0.03
UNBORN_LEAD_DAYS = 250  # latest expected date of birth: this many days after the referral
AGE_BANDS: dict[tuple[int, int], float] = {(0, 0): 11.0, (1, 4): 19.0, (5, 9): 24.0,
                                           (10, 15): 35.0, (16, 17): 11.0}
MALE = 0.525
# Ethnicity of children in need.
ETHNICITIES: dict[str, float] = {
    "WBRI": 62.0, "WOTH": 6.0, "WIRI": 0.4, "WIRT": 0.3, "WROM": 0.7,
    "MWBC": 2.0, "MWBA": 1.0, "MWAS": 1.4, "MOTH": 3.5,
    "AIND": 1.3, "APKN": 2.5, "ABAN": 1.2, "AOTH": 1.6,
    "BCRB": 1.1, "BAFR": 3.5, "BOTH": 1.5, "CHNE": 0.2, "OOTH": 3.0,
    "REFU": 0.8, "NOBT": 4.5,
}
# ~13% of children in need have a disability.
DISABLED = 0.13
DISABILITIES: dict[str, float] = {"AUT": 30.0, "LD": 20.0, "COMM": 18.0, "BEH": 12.0,
                                  "MOB": 6.0, "DDA": 6.0, "PC": 4.0, "HAND": 2.0, "INC": 2.0,
                                  "HEAR": 2.0, "VIS": 2.0, "CON": 2.0}
# School-age children whose UPN is not known, and children with only NFA referrals left as UN7.
UPN_UNKNOWN_AT_SCHOOL_AGE = 0.06
UN7_WHEN_ALL_NFA = 0.5
# Share of children first referred within the collection year (the rest up to 18 months before).
IN_YEAR = 0.78
MONTHS_BEFORE = 18
# Day of the week of referrals, Monday first (relative weights): referrals come in every day,
# far fewer at weekends and on bank holidays (out-of-hours services, mostly the police). The DfE
# does not publish referrals by day: an assumption, about 6% at weekends and holidays.
REFERRAL_WEEKDAY: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 0.95, 0.18, 0.14)
REFERRAL_HOLIDAY = 0.16  # a bank holiday (or council closure day) that falls on a weekday
# A referral on a weekend or holiday that needs a strategy discussion at once has it out of hours
# (that day) with this chance; every other piece of work starts on a working day.
OUT_OF_HOURS_S47 = 0.3
