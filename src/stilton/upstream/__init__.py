"""The HTTP client of upstream repositories: pages, files and metadata, behind one seam."""
