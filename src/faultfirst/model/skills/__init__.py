"""The simulated model's built-in skills, one module each: JSON that fits a schema, answers from the
prompt's documents, summaries, classification, and the default reply. The responder chain
(`model.responders`) tries them in order after a learner's responder and the fixtures."""
