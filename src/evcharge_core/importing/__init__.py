"""Station import: CSV bulk files and single stations, validated with located errors."""
