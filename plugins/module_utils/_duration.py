# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Durations as options give them (app_dependencies' max_age, layer_cache.max_age): 3600, 30m, 12h, 7d, 2w."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text, option="max_age", module="app_dependencies"):
    """Seconds in '90', '30m', '12h', '7d', '2w' (None for none); a titled error naming option otherwise."""
    if text in (None, ""):
        return None
    match = _DURATION.match(str(text))
    if not match:
        raise AppenvError("bad_argument", option=option, module=module,
                          detail="%r is not a duration such as 3600, 30m, 12h, 7d or 2w" % (text,))
    return int(float(match.group(1)) * _UNITS[match.group(2)])
