"""The local agent runs isolated: started with ``python -I`` from its state dir, so a
``backends/`` folder in the operator's working directory is never imported into it;
and a state dir others could write to is refused."""

from __future__ import annotations

import pytest

from tests.support.local import molt

pytestmark = pytest.mark.slow


def test_a_backends_folder_in_the_working_directory_is_not_imported(state_dir, tmp_path):
    planted = tmp_path / "backends"
    (planted / "local").mkdir(parents=True)
    marker = tmp_path / "imported"
    for package in (planted, planted / "local"):
        (package / "__init__.py").write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    (planted / "local" / "agent.py").write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    done = molt(state_dir, "status", "web", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "web" in done.stdout and not marker.exists()


def test_a_state_dir_writable_by_others_is_refused(state_dir):
    state_dir.chmod(0o777)
    try:
        done = molt(state_dir, "status", "web")
    finally:
        state_dir.chmod(0o700)
    assert done.returncode == 2
    (said,) = done.stderr.strip().splitlines()
    assert said == (
        f"molt: state dir {state_dir} is writable by others (mode 777); "
        f"refusing it — chmod 700 {state_dir}"
    )
