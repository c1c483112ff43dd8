"""Acting on the incident: remediation plans, their runners, and the session that runs one
from plan to verdict and records every step."""
