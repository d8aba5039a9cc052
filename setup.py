"""What pyproject.toml cannot state: the package list, emostat's packages (found) plus
``emostat._shipped``, the top level of the source tree mapped into the wheel (see the
``[tool.setuptools]`` comment in pyproject.toml); and that ``emostat._shipped`` carries data
only (its folder is the top level: no ``*.py`` there, such as this file, is a module of it)."""

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

SHIPPED = "emostat._shipped"


class BuildPy(build_py):
    def find_package_modules(self, package, package_dir):
        return [] if package == SHIPPED else super().find_package_modules(package, package_dir)


setup(packages=find_packages(include=["emostat", "emostat.*"]) + [SHIPPED],
      cmdclass={"build_py": BuildPy})
