# Test-only stdout callback: ansible.posix.json, but keeping the module's own ``action`` key
# (the json callback overwrites it with the task's module name; appenv.python returns its
# layer decision there).
from __future__ import annotations

from ansible_collections.ansible.posix.plugins.callback.json import CallbackModule as JsonCallback

from ansible_collections.ansible.posix.plugins.callback import json as _posix_json

DOCUMENTATION = _posix_json.DOCUMENTATION.replace("name: json", "name: appenv_json", 1)


class CallbackModule(JsonCallback):
    CALLBACK_NAME = "appenv_json"

    def _record_task_result(self, on_info, result, **kwargs):
        own_action = result._result.get("action")
        super()._record_task_result(on_info, result, **kwargs)
        for play in self.results[-1:]:
            for task in play["tasks"]:
                entry = task["hosts"].get(result._host.name)
                if entry is not None and task["task"]["id"] == str(result._task._uuid):
                    entry["_module"] = entry.get("action")
                    if own_action is not None:
                        entry["action"] = own_action
                    else:
                        entry.pop("action", None)
