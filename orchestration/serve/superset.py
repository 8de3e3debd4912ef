"""The lead-scoring dashboard shipped as code: Superset's own export files in bi/superset/dashboard/, imported
into a Superset that runs in its own virtual environment and reads the served DuckDB file read-only.

Superset pins libraries that conflict with dbt and Dagster, so it never shares the project's .venv:
`make superset` installs bi/superset/requirements.txt (compiled from requirements.in) into .superset/venv,
then `python -m orchestration.serve.superset setup` prepares its metadata in .superset/home (a SQLite file, a
secret key and an admin password made once), and imports the dashboard connected to the served warehouse
(`LEADSCORE_DUCKDB_PATH`) with `access_mode=read_only`. `serve` runs it on 127.0.0.1 (LEADSCORE_SUPERSET_PORT,
default 8088); `export` writes the dashboard, as edited in Superset, back into bi/superset/dashboard/ for a
pull request. The same functions start the Superset of the dashboard test.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from orchestration.settings import Settings

DASHBOARD_SLUG = "lead-scoring"
ADMIN_USER = "admin"
BUNDLE_FOLDER = "lead_scoring"  # the top folder of the zip Superset imports
# What the database file says in the repository: the real, absolute path is written in at import time.
URI_PLACEHOLDER = "duckdb:////path/to/warehouse/leadscore.duckdb?access_mode=read_only"
DEFAULT_PORT = 8088


class SupersetError(Exception):
    """A Superset command failed; the message has its output."""


def read_only_uri(warehouse: Path) -> str:
    """duckdb-engine's URI of the served file, read-only (an absolute path: four slashes)."""
    return f"duckdb:///{warehouse.resolve()}?access_mode=read_only"


@dataclass(frozen=True)
class Superset:
    """A Superset installation (its virtual environment), its metadata folder and the warehouse it reads."""

    project_dir: Path
    venv: Path
    home: Path
    warehouse: Path

    @classmethod
    def of_project(cls, settings: Settings, home: Path | None = None) -> Superset:
        base = settings.project_dir / ".superset"
        configured = os.environ.get("LEADSCORE_SUPERSET_HOME")
        return cls(
            project_dir=settings.project_dir,
            venv=base / "venv",
            home=home or (Path(configured) if configured else base / "home"),
            warehouse=settings.warehouse_path,
        )

    @property
    def bundle_dir(self) -> Path:
        return self.project_dir / "bi" / "superset" / "dashboard"

    @property
    def executable(self) -> Path:
        return self.venv / "bin" / "superset"

    @property
    def password_file(self) -> Path:
        return self.home / "admin_password"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            SUPERSET_HOME=str(self.home),
            SUPERSET_CONFIG_PATH=str(self.project_dir / "bi" / "superset" / "superset_config.py"),
            FLASK_APP="superset",
            PYTHONPATH="",
        )
        return env

    def run(self, *args: str) -> str:
        """Run a `superset` command; its output, or SupersetError naming the command."""
        if not self.executable.exists():
            raise SupersetError(f"{self.executable} is missing: run `make superset` first")
        completed = subprocess.run(
            [str(self.executable), *args], env=self.env(), capture_output=True, text=True, check=False
        )
        output = completed.stdout + completed.stderr
        if completed.returncode != 0:
            command = " ".join(args[:2])
            raise SupersetError(f"superset {command} exited {completed.returncode}:\n{output[-4000:]}")
        return output

    def serve_command(self, port: int, host: str = "127.0.0.1") -> list[str]:
        return [str(self.executable), "run", "-h", host, "-p", str(port), "--with-threads"]


def bundle_zip(bundle_dir: Path, warehouse: Path, out: Path) -> Path:
    """The dashboard's export files as the zip Superset imports, the database pointed at the warehouse."""
    with zipfile.ZipFile(out, "w") as bundle:
        for path in sorted(p for p in bundle_dir.rglob("*.yaml") if p.is_file()):
            relative = path.relative_to(bundle_dir)
            text = path.read_text(encoding="utf-8")
            if relative.parts[0] == "databases":
                database = yaml.safe_load(text)
                database["sqlalchemy_uri"] = read_only_uri(warehouse)
                text = yaml.safe_dump(database, sort_keys=False)
            bundle.writestr(f"{BUNDLE_FOLDER}/{relative.as_posix()}", text)
    return out


def setup(superset: Superset) -> str:
    """Prepare the metadata (schema, roles, the admin user) and import the dashboard; return the admin
    password. Safe to run again: it upgrades, keeps the user and the key, and re-imports (overwrite)."""
    superset.home.mkdir(parents=True, exist_ok=True)
    key = superset.home / "secret_key"
    if not key.exists():
        key.write_text(secrets.token_urlsafe(48), encoding="utf-8")
        key.chmod(0o600)
    superset.run("db", "upgrade")
    password = _admin_password(superset)
    superset.run("init")
    import_dashboard(superset)
    return password


def _admin_password(superset: Superset) -> str:
    """The admin user's password, made (and the user created) the first time."""
    if superset.password_file.exists():
        return superset.password_file.read_text(encoding="utf-8").strip()
    password = secrets.token_urlsafe(12)
    output = superset.run(
        "fab", "create-admin", "--username", ADMIN_USER, "--firstname", "Lead", "--lastname", "Scoring",
        "--email", "admin@localhost", "--password", password,
    )  # fmt: skip
    if "already exist" in output:
        superset.run("fab", "reset-password", "--username", ADMIN_USER, "--password", password)
    superset.password_file.write_text(password, encoding="utf-8")
    superset.password_file.chmod(0o600)
    return password


def import_dashboard(superset: Superset) -> None:
    """Import bi/superset/dashboard (database, datasets, charts, dashboard), connected to the warehouse."""
    with tempfile.TemporaryDirectory() as tmp:
        bundle = bundle_zip(superset.bundle_dir, superset.warehouse, Path(tmp) / "dashboard.zip")
        superset.run("import-dashboards", "-p", str(bundle), "-u", ADMIN_USER)


_EXPORT_ID = re.compile(r"_\d+(?=\.yaml$)")


def export_dashboard(superset: Superset) -> Path:
    """Write the dashboard as Superset exports it into bi/superset/dashboard/ (replacing what is there):
    file names without Superset's local ids and the database's path replaced by URI_PLACEHOLDER, so that an
    export from any machine diffs only where the dashboard changed."""
    with tempfile.TemporaryDirectory() as tmp:
        exported = Path(tmp) / "export.zip"
        superset.run("export-dashboards", "-f", str(exported))
        files: dict[Path, str] = {}
        with zipfile.ZipFile(exported) as bundle:
            for name in bundle.namelist():
                relative = Path(*Path(name).parts[1:])
                if relative.suffix != ".yaml" or relative.name == "metadata.yaml":
                    continue
                text = bundle.read(name).decode("utf-8")
                if relative.parts[0] == "databases":
                    database = yaml.safe_load(text)
                    database["sqlalchemy_uri"] = URI_PLACEHOLDER
                    text = yaml.safe_dump(database, sort_keys=False)
                files[relative.with_name(_EXPORT_ID.sub("", relative.name))] = text
    destination = superset.bundle_dir
    shutil.rmtree(destination, ignore_errors=True)
    for relative, text in files.items():
        (destination / relative).parent.mkdir(parents=True, exist_ok=True)
        (destination / relative).write_text(text, encoding="utf-8")
    metadata = {"version": "1.0.0", "type": "Dashboard", "timestamp": "1970-01-01T00:00:00+00:00"}
    (destination / "metadata.yaml").write_text(yaml.safe_dump(metadata, sort_keys=False), encoding="utf-8")
    return destination


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m orchestration.serve.superset", description=__doc__)
    parser.add_argument("action", choices=["setup", "serve", "export"])
    args = parser.parse_args(argv)
    superset = Superset.of_project(Settings.from_env())
    try:
        if args.action == "setup":
            password = setup(superset)
            port = int(os.environ.get("LEADSCORE_SUPERSET_PORT", DEFAULT_PORT))
            print(
                f"Superset is set up in {superset.home}, dashboard '{DASHBOARD_SLUG}' imported, reading "
                f"{superset.warehouse} read-only.\n`make superset-serve`, then http://127.0.0.1:{port}"
                f"/superset/dashboard/{DASHBOARD_SLUG}/ as {ADMIN_USER} / {password} "
                f"(also in {superset.password_file})"
            )
        elif args.action == "export":
            print(f"dashboard exported into {export_dashboard(superset)}")
        else:
            port = int(os.environ.get("LEADSCORE_SUPERSET_PORT", DEFAULT_PORT))
            if not superset.executable.exists():
                raise SupersetError(f"{superset.executable} is missing: run `make superset` first")
            os.execve(superset.executable, superset.serve_command(port), superset.env())
    except SupersetError as exc:
        raise SystemExit(str(exc)) from exc


if __name__ == "__main__":
    main()
