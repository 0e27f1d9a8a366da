"""The default rule packs' source of truth is rules/ at the top of the checkout (what people edit and
review); a built wheel carries a copy as package data, so that a plain `pip install .` finds them."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithRulePacks(build_py):
    def run(self):
        super().run()
        target = Path(self.build_lib) / "callaudit" / "analysis" / "default_rules"
        target.mkdir(parents=True, exist_ok=True)
        for pack in sorted(Path(__file__).resolve().parent.joinpath("rules").glob("*.toml")):
            shutil.copy2(pack, target / pack.name)
        (target / "requests").mkdir(exist_ok=True)  # the requests packs (analysis/request_pack.py)
        for pack in sorted(Path(__file__).resolve().parent.joinpath("rules", "requests").glob("*.toml")):
            shutil.copy2(pack, target / "requests" / pack.name)


setup(cmdclass={"build_py": BuildWithRulePacks})
