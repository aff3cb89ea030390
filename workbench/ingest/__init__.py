"""Real Sentinel-1 into the workbench: ``workbench stack`` from a STAC catalogue
(:mod:`workbench.ingest.stac`) or a raw SAFE product (:mod:`workbench.ingest.safe`).

The STAC path needs the optional extra ``s1`` (``pip install "glacier-workbench[s1]"``:
pystac, pystac-client, odc-stac; xarray-sentinel and sarsen for ``--safe``). The modules
are imported on use, so the rest of the workbench works without them.
"""
