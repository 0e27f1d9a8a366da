"""The `callaudit` command: click groups that only wire the layers below (main registers them; options
holds the options every command shares). Nothing below imports this package.
"""
