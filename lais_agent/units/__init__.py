"""Unit renderers: systemd unit files for modules, built in memory. Pure: no I/O.

``unitfile`` owns the unit-file syntax and systemd's escaping rules; ``render`` turns a
manifest's ``service`` section and what was resolved for one machine into a hardened
``lais-<module>.service`` and its tunables drop-in. Writing the files, reloading systemd
and starting units belong to the runtime adapters.
"""
