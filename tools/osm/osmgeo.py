"""Shared helpers for the OSM reference scripts in tools/osm/: a local east/north frame computed
with geographiclib (an azimuthal-equidistant projection about a chosen centre, on the WGS84
ellipsoid) and reading one way's node locations with pyosmium.

Over the few hundred metres of a site, the azimuthal-equidistant projection keeps every distance
from the centre exact and distorts other distances and areas by about (s/R)^2 / 6 (s the
distance from the centre, R about 6.38e6 m): under 1e-9 relative at 200 m. It is the reference the
Rust importer's own (simpler) local projection is checked against.
"""

import math
import sys

from geographiclib.geodesic import Geodesic

WGS84 = Geodesic.WGS84


def fail(message, code=2):
    """Print a clear message to stderr and exit non-zero."""
    print(f"{sys.argv[0]}: error: {message}", file=sys.stderr)
    sys.exit(code)


class LocalFrame:
    """Azimuthal-equidistant east/north metres about (lat0, lon0) on WGS84."""

    def __init__(self, lat0, lon0):
        self.lat0 = lat0
        self.lon0 = lon0

    def to_local(self, lat, lon):
        g = WGS84.Inverse(self.lat0, self.lon0, lat, lon)
        s, azi = g["s12"], math.radians(g["azi1"])
        return s * math.sin(azi), s * math.cos(azi)

    def to_geo(self, x, y):
        s = math.hypot(x, y)
        if s == 0.0:
            return self.lat0, self.lon0
        azi = math.degrees(math.atan2(x, y))
        g = WGS84.Direct(self.lat0, self.lon0, azi, s)
        return g["lat2"], g["lon2"]


def way_locations(path, way_id):
    """The node refs of way `way_id` in the OSM file at `path` (XML or PBF), each as
    (ref, lat, lon), with lat/lon None where the node is absent from the file. Returns
    (tags, refs) or fails when there is no such way."""
    import osmium

    try:
        fp = osmium.FileProcessor(str(path)).with_locations().with_filter(
            osmium.filter.IdFilter([way_id]).enable_for(osmium.osm.WAY)
        )
        for obj in fp:
            if obj.is_way() and obj.id == way_id:
                refs = []
                for n in obj.nodes:
                    if n.location.valid():
                        refs.append((n.ref, n.location.lat, n.location.lon))
                    else:
                        refs.append((n.ref, None, None))
                return dict(obj.tags), refs
    except RuntimeError as e:  # libosmium's own errors (unreadable file, bad format)
        fail(f"cannot read {path}: {e}")
    fail(f"way {way_id} not found in {path}")
