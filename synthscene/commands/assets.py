"""`synthscene assets ...`: add, list, check and preview the assets of a library."""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Asset libraries: add a mesh or URDF, list, check (load + render), preview.")

_show_default = warnings.showwarning


def _show(message, category, filename, lineno, file=None, line=None):
    """Asset warnings already name the file: print them as one line, not as Python source locations."""
    if category.__name__ in ("AssetWarning", "ImageWarning"):
        typer.echo(f"warning: {message}", err=True)
    else:
        _show_default(message, category, filename, lineno, file, line)


warnings.showwarning = _show  # this module is imported by the CLI only
_LIB_HELP = "Asset library folder (default: $SYNTHSCENE_LIBRARY or ~/.local/share/synthscene/assets)."


def _libraries(library: Optional[Path]):
    from ..assets.library import search_path

    return search_path([library])


def _check_units(units: str) -> None:
    from ..core.errors import BadInput
    from ..core.schema import UNIT_NAMES

    if units not in UNIT_NAMES:
        raise BadInput(f"expected m, cm or mm, got {units!r}", None, "--units")


def _orientation(up_axis: Optional[str], rotation_deg: Optional[str]):
    """`--up-axis` and `--rotation-deg RX,RY,RZ`, checked: (up_axis or None, (rx, ry, rz) or None)."""
    import math

    from ..core.errors import BadInput
    from ..assets.convert import UP_AXES

    if up_axis is not None and up_axis not in UP_AXES:
        raise BadInput(f"expected one of {', '.join(UP_AXES)}, got {up_axis!r}", None, "--up-axis")
    if rotation_deg is None:
        return up_axis, None
    try:
        rot = tuple(float(a) for a in rotation_deg.split(","))
    except ValueError:
        rot = ()
    if len(rot) != 3 or not all(math.isfinite(a) for a in rot):
        raise BadInput(f"expected three angles in degrees, RX,RY,RZ (e.g. 90,0,0), got {rotation_deg!r}", None, "--rotation-deg")
    return up_axis, rot


_UP_HELP = "Mesh axis that points up: z, y, x, -z, -y, -x (default: y for glTF/GLB, z otherwise)."
_ROT_HELP = "Extra fixed rotation RX,RY,RZ in degrees (XYZ extrinsic), after the up axis, e.g. 90,0,0."


def _ready(name: str, library: Optional[Path], units: str, up_axis: Optional[str] = None, rotation_deg: Optional[str] = None):
    """A library asset by name, or a mesh/URDF file given directly (to try it before adding it)."""
    from ..core.errors import BadInput
    from ..assets.prepare import make_ready
    from ..assets.library import AssetSpec, LibraryAsset, cache_for, find_asset

    up, rot = _orientation(up_axis, rotation_deg)
    path = Path(name)
    if path.is_file():
        _check_units(units)
        s = AssetSpec(name=path.stem, units=units, **{"urdf" if path.suffix.lower() == ".urdf" else "mesh": path.name})
        found = LibraryAsset(s, path.resolve().parent)
        opts = {"up_axis": up, "rotation_deg": rot} if s.urdf else {"collision": s.collision, "up_axis": up, "rotation_deg": rot}
        return found, make_ready(found.file, name=s.name, units=units, field="asset", **opts)
    if up is not None or rot is not None:
        raise BadInput("--up-axis and --rotation-deg apply to a file given directly; a library asset's are in its "
                       "asset.yaml (or add it again with --overwrite)", None, "--up-axis" if up else "--rotation-deg")
    found = find_asset(name, _libraries(library))
    s = found.spec
    opts = {} if s.urdf else {"collision": s.collision, "recentre": s.recentre, "mass": s.mass,
                              "up_axis": s.up_axis, "rotation_deg": s.rotation_deg}
    ready = make_ready(found.file, name=s.name, units=s.units, scale=s.scale, cache_dir=cache_for(found), field="asset", **opts)
    return found, ready


@app.command()
def add(
    source: Path = typer.Argument(..., help="Mesh (OBJ+MTL, PLY, STL, glTF/GLB) or URDF."),
    name: str = typer.Option(..., "--name", help="Asset name (letters, digits, _ . -)."),
    class_name: Optional[str] = typer.Option(None, "--class", help="Class label (default: the name)."),
    units: str = typer.Option("m", "--units", help="Units of the file: m, cm or mm."),
    scale: float = typer.Option(1.0, "--scale", help="Extra size factor after the units (a model in no standard unit)."),
    library: Optional[Path] = typer.Option(None, "--library", help=_LIB_HELP),
    collision: str = typer.Option("vhacd", "--collision", help="vhacd | convex | box | sphere | cylinder."),
    mass: Optional[float] = typer.Option(None, "--mass", help="kg (default: hull volume × 500 kg/m³)."),
    recentre: bool = typer.Option(False, "--recentre", help="Move the origin to the bounding-box centre."),
    up_axis: Optional[str] = typer.Option(None, "--up-axis", help=_UP_HELP),
    rotation_deg: Optional[str] = typer.Option(None, "--rotation-deg", help=_ROT_HELP),
    upright: bool = typer.Option(False, "--upright", help="It stands on its base: only its heading is random."),
    licence: Optional[str] = typer.Option(None, "--licence"),
    origin: Optional[str] = typer.Option(None, "--source", help="Where the model came from (URL, dataset)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an asset of the same name."),
) -> None:
    """Validate, convert (cached) and copy a mesh or URDF into an asset library."""
    from ..core.errors import BadInput
    from ..core.schema import COLLISION_NAMES as COLLISIONS
    from ..assets.library import default_library
    from ..assets.library_add import add_asset

    _check_units(units)
    if collision not in COLLISIONS:
        raise BadInput(f"expected one of {', '.join(COLLISIONS)}, got {collision!r}", None, "--collision")
    up, rot = _orientation(up_axis, rotation_deg)
    lib = (library or default_library()).resolve()
    if not (scale > 0 and scale < float("inf")):
        raise BadInput(f"expected a positive number, got {scale}", None, "--scale")
    asset = add_asset(source, name, lib, class_name=class_name, units=units, scale=scale, collision=collision, mass=mass,
                      recentre=recentre, up_axis=up, rotation_deg=rot, upright=upright, licence=licence, origin=origin,
                      overwrite=overwrite)
    typer.echo(f"added {asset.spec.name} (class {asset.spec.cls}) → {asset.folder}")


@app.command("list")
def list_(library: Optional[Path] = typer.Option(None, "--library", help=_LIB_HELP)) -> None:
    """Every asset in the libraries searched (named library, default library, installed packs)."""
    from ..assets.library import list_assets

    libs = _libraries(library)
    found = list_assets(libs)
    if not found:
        typer.echo("no assets in " + ", ".join(str(x) for x in libs))
        return
    width = max(len(a.spec.name) for a in found)
    for a in found:
        s = a.spec
        typer.echo(f"{s.name:<{width}}  class={s.cls}  units={s.units}  scale={s.scale:g}  {a.file}")


@app.command()
def check(
    name: str = typer.Argument(..., help="Asset name, or a mesh/URDF file to try before adding it."),
    library: Optional[Path] = typer.Option(None, "--library", help=_LIB_HELP),
    units: str = typer.Option("m", "--units", help="Units of a file given directly: m, cm or mm."),
    up_axis: Optional[str] = typer.Option(None, "--up-axis", help=_UP_HELP + " For a file given directly."),
    rotation_deg: Optional[str] = typer.Option(None, "--rotation-deg", help=_ROT_HELP + " For a file given directly."),
) -> None:
    """Load and render the asset; report which axis is up, its footprint and height, size, triangles,
    watertightness, texture/colour."""
    from ..assets.inspect import check as _check

    found, ready = _ready(name, library, units, up_axis, rotation_deg)
    rep = _check(found.spec.name, found.file, ready.urdf, ready.scale, ready.report, ready.warnings,
                 units=found.spec.units, up_axis=ready.up_axis, rotation_deg=ready.rotation_deg,
                 is_urdf=found.spec.urdf is not None)
    typer.echo("\n".join(rep.lines()))


@app.command()
def preview(
    name: str = typer.Argument(..., help="Asset name, or a mesh/URDF file."),
    out: Path = typer.Option(..., "--out", help="Contact sheet PNG."),
    library: Optional[Path] = typer.Option(None, "--library", help=_LIB_HELP),
    units: str = typer.Option("m", "--units", help="Units of a file given directly: m, cm or mm."),
    up_axis: Optional[str] = typer.Option(None, "--up-axis", help=_UP_HELP + " For a file given directly."),
    rotation_deg: Optional[str] = typer.Option(None, "--rotation-deg", help=_ROT_HELP + " For a file given directly."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing file at --out."),
) -> None:
    """A turntable contact sheet: eight azimuths at two elevations, on a ground plane, with the world
    axes (x red, y green, z blue) and a scale bar."""
    from ..assets.inspect import turntable
    from ..core.files import check_out_file

    out = check_out_file(out, overwrite)
    found, ready = _ready(name, library, units, up_axis, rotation_deg)
    typer.echo(f"preview → {turntable(ready.urdf, ready.scale, out, f'{found.spec.name} ({found.spec.cls})')}")
