"""Where calls come from: recording folders and what lies around each file (file-name patterns, CDR
CSVs, sidecar JSON), the PBX and the live SIP listen-in (pjsua2), unannounced spot checks, and the
sample calls built from real recorded speech.

May import: audio, text, config, errors, digest. Never transcript (the live transcript is fed by the
CLI, which wires the two) nor anything above.
"""
