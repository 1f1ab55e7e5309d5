"""The catalogue: courses, translations, modules, lessons, quizzes, publishing."""
