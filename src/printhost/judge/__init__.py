"""The judge stage: every job is analysed, priced and judged against the rules before it
may print (DESIGN: analyse → identify → judge). ``records`` holds what is stored on the job,
``counting`` what printing it costs, ``judge`` the decision, ``analyser`` the background
analysis of spooled documents.
"""
