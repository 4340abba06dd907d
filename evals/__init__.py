"""The offline eval suite: cases in data files, a runner that drives the agent, scorers, a report.

    cases/*.yaml -> load_cases -> run_cases (AgentService) -> score -> report (markdown, HTML)

Answers to data questions are checked by executing the case's gold SQL on the same warehouse,
never by comparing strings.
"""
