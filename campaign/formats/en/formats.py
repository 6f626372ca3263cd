"""How the admin writes dates and times (Django reads this module for English, the only language).

Every time names its zone ("2026-12-06 11:30 EST"): staff read times on their campaign's clock
(campaign.timezones), and a time without its zone is how one event came to read 00:18 on one page
and 5:17 a.m. on another. ISO-like dates sort and compare at a glance.
"""

DATETIME_FORMAT = "Y-m-d H:i T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i T"
DATETIME_INPUT_FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"]
