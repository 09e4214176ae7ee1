"""An action plugin as Ansible builds it (real Task, loader, play context, an unopened local connection),
with the one call that would reach the host, _execute_module, answered by the test and recorded."""

import gc

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task
from ansible.plugins.loader import connection_loader
from ansible.template import Templar


class Recorder:
    """The module runs the test scripts: answers given in order (the last one repeats), calls kept, and whether the
    garbage collector was running at each call (collector: the payload is built inside the call)."""

    def __init__(self, answers):
        self.answers = list(answers) or [{"changed": False, "layer_action": "kept"}]
        self.calls = []
        self.collector = []

    def __call__(self, module_name=None, module_args=None, task_vars=None, **_kwargs):
        # Ansible's own action plugin names neither: the module and arguments are the task's.
        self.calls.append((module_name, None if module_args is None else dict(module_args)))
        self.collector.append(gc.isenabled())
        answer = self.answers[min(len(self.calls), len(self.answers)) - 1]
        return dict(answer)

    @property
    def args(self):
        return [args for _name, args in self.calls]


def _no_host(*args, **kwargs):
    raise AssertionError("the action plugin reached for the host: %r" % (args,))


@pytest.fixture
def make_action(tmp_path):
    """make_action(ActionModule, args, answers=(), check_mode=False) -> (action, recorder).

    Relative paths (the archive option) are looked up under tmp_path, the playbook's directory.
    """

    def make(action_class, args, answers=(), check_mode=False):
        task = Task.load({"action": "appenv.python.module", "args": dict(args)})
        task.check_mode = check_mode
        loader = DataLoader()
        loader.set_basedir(str(tmp_path))
        play_context = PlayContext()
        connection = connection_loader.get("local", play_context)
        recorder = Recorder(answers)
        action = action_class(task, connection, play_context, loader, Templar(loader), None)
        action._execute_module = recorder
        action._low_level_execute_command = _no_host
        return action, recorder

    return make
