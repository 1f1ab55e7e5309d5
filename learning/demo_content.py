"""The demo courses, written in all five interface languages.

A newcomer judges the platform by what the demo shows, so every course, module, lesson,
question and answer exists in English, Spanish, French, Portuguese and Arabic: a Spanish
reader of an English course never meets "Indicators: part 1" or "True/False".
``course_specs()`` turns these texts into the specs ``create_course`` accepts (the course's
own language as the base text, the four others as translations).
"""

from __future__ import annotations

LANGUAGES = ("en", "es", "fr", "pt", "ar")

TRUE = {"en": "True", "es": "Verdadero", "fr": "Vrai", "pt": "Verdadeiro", "ar": "صحيح"}
FALSE = {"en": "False", "es": "Falso", "fr": "Faux", "pt": "Falso", "ar": "خطأ"}


def _body(intro: str, *points: str) -> str:
    return intro + "\n\n" + "\n".join(f"- {point}" for point in points) + "\n"


RECOGNISING = {
    "slug": "recognising-child-exploitation",
    "language": "en",
    "certificate_validity_months": 24,
    "estimated_minutes": 90,
    "texts": {
        "en": ("Recognising child sexual exploitation", "The indicators of exploitation and what to do when you see them."),
        "es": ("Reconocer la explotación sexual infantil", "Los indicadores de explotación y qué hacer al detectarlos."),
        "fr": ("Reconnaître l'exploitation sexuelle des enfants", "Les signes de l'exploitation et comment réagir."),
        "pt": ("Reconhecer a exploração sexual infantil", "Os indicadores de exploração e o que fazer ao percebê-los."),
        "ar": ("التعرّف على الاستغلال الجنسي للأطفال", "مؤشرات الاستغلال وما يجب فعله عند ملاحظتها."),
    },
    "modules": [
        {"title": {"en": "Indicators", "es": "Indicadores", "fr": "Indicateurs", "pt": "Indicadores", "ar": "المؤشرات"},
         "lessons": [
            {"en": ("What exploitation looks like", _body(
                "Exploitation is rarely announced. It usually begins with attention and gifts from someone who gains the child's trust.",
                "An adult or older peer offers affection, money or belonging", "The child is then asked for something in return",
                "Threats and shame keep the child silent")),
             "es": ("Cómo se presenta la explotación", _body(
                "La explotación rara vez se anuncia. Suele empezar con atención y regalos de alguien que se gana la confianza del niño o la niña.",
                "Un adulto o un joven mayor ofrece afecto, dinero o pertenencia", "Después se pide algo a cambio",
                "Las amenazas y la vergüenza mantienen el silencio")),
             "fr": ("À quoi ressemble l'exploitation", _body(
                "L'exploitation s'annonce rarement. Elle commence souvent par de l'attention et des cadeaux de la part d'une personne qui gagne la confiance de l'enfant.",
                "Un adulte ou un jeune plus âgé offre de l'affection, de l'argent ou un sentiment d'appartenance",
                "On demande ensuite quelque chose en retour", "Les menaces et la honte imposent le silence")),
             "pt": ("Como a exploração se apresenta", _body(
                "A exploração raramente é evidente. Costuma começar com atenção e presentes de alguém que conquista a confiança da criança.",
                "Um adulto ou um jovem mais velho oferece afeto, dinheiro ou pertencimento", "Depois pede algo em troca",
                "Ameaças e vergonha mantêm a criança em silêncio")),
             "ar": ("كيف يبدو الاستغلال", _body(
                "نادرًا ما يكون الاستغلال ظاهرًا. يبدأ عادةً باهتمام وهدايا من شخص يكسب ثقة الطفل.",
                "يقدّم شخص بالغ أو شاب أكبر سنًّا العاطفة أو المال أو الشعور بالانتماء", "ثم يُطلب من الطفل مقابل لذلك",
                "التهديد والشعور بالعار يُبقيان الطفل صامتًا"))},
            {"en": ("Signs in behaviour and circumstances", _body(
                "No single sign proves exploitation, but several together call for a closer look.",
                "Unexplained gifts, money or a new phone", "Going missing, or coming home late and distressed",
                "Older 'friends', or a sudden change of friends", "Withdrawal, self-harm or dropping out of school")),
             "es": ("Señales en el comportamiento y el entorno", _body(
                "Ninguna señal por sí sola prueba la explotación, pero varias juntas exigen prestar más atención.",
                "Regalos, dinero o un teléfono nuevo sin explicación", "Desapariciones, o volver tarde a casa y angustiado",
                "«Amigos» mayores o un cambio repentino de amistades", "Aislamiento, autolesiones o abandono escolar")),
             "fr": ("Les signes dans le comportement et la situation", _body(
                "Aucun signe ne prouve à lui seul l'exploitation, mais plusieurs signes réunis appellent à regarder de plus près.",
                "Des cadeaux, de l'argent ou un nouveau téléphone inexpliqués", "Des fugues, ou des retours tardifs dans la détresse",
                "Des « amis » plus âgés, ou un changement soudain d'entourage", "Le repli sur soi, l'automutilation ou le décrochage scolaire")),
             "pt": ("Sinais no comportamento e nas circunstâncias", _body(
                "Nenhum sinal isolado prova a exploração, mas vários sinais juntos pedem um olhar mais atento.",
                "Presentes, dinheiro ou um celular novo sem explicação", "Desaparecimentos, ou voltar para casa tarde e angustiado",
                "\"Amigos\" mais velhos, ou uma mudança repentina de amizades", "Isolamento, automutilação ou abandono escolar")),
             "ar": ("علامات في السلوك والظروف", _body(
                "لا تُثبت علامة واحدة وحدها وقوع الاستغلال، لكن اجتماع عدة علامات يستدعي التدقيق.",
                "هدايا أو أموال أو هاتف جديد دون تفسير", "التغيّب، أو العودة إلى المنزل متأخرًا وفي حالة ضيق",
                "«أصدقاء» أكبر سنًّا، أو تغيّر مفاجئ في الأصدقاء", "الانطواء أو إيذاء النفس أو الانقطاع عن المدرسة"))},
        ]},
        {"title": {"en": "Responding", "es": "Cómo responder", "fr": "Réagir", "pt": "Como responder", "ar": "الاستجابة"},
         "lessons": [
            {"en": ("When a child discloses", _body(
                "How you react the first time a child speaks shapes whether they will speak again.",
                "Listen calmly and let the child use their own words", "Reassure them that telling was right",
                "Do not promise to keep a secret", "Do not ask leading questions")),
             "es": ("Cuando un niño o una niña revela un abuso", _body(
                "Su reacción la primera vez que un niño habla determina si volverá a hablar.",
                "Escuche con calma y deje que use sus propias palabras", "Tranquilícelo: contarlo fue lo correcto",
                "No prometa guardar el secreto", "No haga preguntas sugestivas")),
             "fr": ("Quand un enfant se confie", _body(
                "Votre réaction la première fois qu'un enfant parle détermine s'il parlera à nouveau.",
                "Écoutez calmement et laissez l'enfant employer ses propres mots", "Rassurez-le : il a eu raison de parler",
                "Ne promettez pas de garder le secret", "Ne posez pas de questions orientées")),
             "pt": ("Quando uma criança revela um abuso", _body(
                "A sua reação na primeira vez que uma criança fala define se ela voltará a falar.",
                "Escute com calma e deixe a criança usar as próprias palavras", "Tranquilize-a: contar foi a atitude certa",
                "Não prometa guardar segredo", "Não faça perguntas indutivas")),
             "ar": ("عندما يُفصح الطفل", _body(
                "طريقة تفاعلك في المرة الأولى التي يتحدث فيها الطفل تحدد ما إذا كان سيتحدث مجددًا.",
                "استمع بهدوء ودع الطفل يستخدم كلماته الخاصة", "طمئنه بأن الإفصاح كان التصرف الصحيح",
                "لا تَعِد بالاحتفاظ بالسر", "لا تطرح أسئلة إيحائية"))},
            {"en": ("Recording and referring", _body(
                "Write down what you saw and heard, then pass it on through your organisation's procedure the same day.",
                "Record the child's words exactly, with the date and time", "Separate facts from your own interpretation",
                "Refer to the designated safeguarding lead or the competent authority")),
             "es": ("Registrar y derivar", _body(
                "Anote lo que vio y escuchó y transmítalo el mismo día siguiendo el procedimiento de su organización.",
                "Registre las palabras exactas del niño, con fecha y hora", "Separe los hechos de su propia interpretación",
                "Derive el caso a la persona responsable de protección o a la autoridad competente")),
             "fr": ("Consigner et signaler", _body(
                "Notez ce que vous avez vu et entendu, puis transmettez-le le jour même selon la procédure de votre organisation.",
                "Consignez les mots exacts de l'enfant, avec la date et l'heure", "Distinguez les faits de votre interprétation",
                "Signalez au référent protection de l'enfance ou à l'autorité compétente")),
             "pt": ("Registrar e encaminhar", _body(
                "Anote o que viu e ouviu e encaminhe no mesmo dia, seguindo o procedimento da sua organização.",
                "Registre as palavras exatas da criança, com data e hora", "Separe os fatos da sua própria interpretação",
                "Encaminhe ao responsável pela proteção ou à autoridade competente")),
             "ar": ("التوثيق والإحالة", _body(
                "دوّن ما رأيته وسمعته، ثم أحِله في اليوم نفسه وفق إجراءات مؤسستك.",
                "سجّل كلمات الطفل كما قالها، مع التاريخ والوقت", "افصل بين الوقائع وتفسيرك الشخصي",
                "أحِل الحالة إلى مسؤول الحماية المعيَّن أو إلى الجهة المختصة"))},
        ]},
    ],
    "quiz": [
        {"text": {"en": "A child's sudden possession of expensive gifts can be an indicator.",
                  "es": "Que un niño tenga de repente regalos caros puede ser un indicador.",
                  "fr": "La possession soudaine de cadeaux coûteux par un enfant peut être un indicateur.",
                  "pt": "A posse repentina de presentes caros por uma criança pode ser um indicador.",
                  "ar": "قد يكون امتلاك الطفل المفاجئ لهدايا باهظة الثمن مؤشرًا."},
         "choices": [(TRUE, True), (FALSE, False)]},
        {"text": {"en": "What comes first when a child discloses abuse?",
                  "es": "¿Qué es lo primero cuando un niño revela un abuso?",
                  "fr": "Que faire en premier quand un enfant révèle des violences ?",
                  "pt": "O que vem primeiro quando uma criança revela um abuso?",
                  "ar": "ما أول ما يجب فعله عندما يُفصح طفل عن تعرّضه للإساءة؟"},
         "choices": [
            ({"en": "Listen and reassure", "es": "Escuchar y tranquilizar", "fr": "Écouter et rassurer",
              "pt": "Escutar e tranquilizar", "ar": "الاستماع والطمأنة"}, True),
            ({"en": "Confront the suspect", "es": "Enfrentar al sospechoso", "fr": "Confronter le suspect",
              "pt": "Confrontar o suspeito", "ar": "مواجهة المشتبه به"}, False),
            ({"en": "Ask leading questions", "es": "Hacer preguntas sugestivas", "fr": "Poser des questions orientées",
              "pt": "Fazer perguntas indutivas", "ar": "طرح أسئلة إيحائية"}, False),
         ]},
    ],
}

INVESTIGATIONS = {
    "slug": "online-investigations",
    "language": "en",
    "sectors": ["law_enforcement", "justice", "technology"],
    "certificate_validity_months": 36,
    "estimated_minutes": 240,
    "texts": {
        "en": ("Investigating online child abuse", "Evidence, platforms and victim identification for investigators."),
        "es": ("Investigación del abuso infantil en línea", "Pruebas, plataformas e identificación de víctimas para investigadores."),
        "fr": ("Enquêter sur les abus en ligne", "Preuves, plateformes et identification des victimes pour les enquêteurs."),
        "pt": ("Investigação do abuso infantil on-line", "Provas, plataformas e identificação de vítimas para investigadores."),
        "ar": ("التحقيق في إساءة معاملة الأطفال عبر الإنترنت", "الأدلة والمنصات وتحديد هوية الضحايا للمحققين."),
    },
    "modules": [
        {"title": {"en": "Digital evidence", "es": "Pruebas digitales", "fr": "Preuves numériques", "pt": "Provas digitais",
                   "ar": "الأدلة الرقمية"},
         "lessons": [
            {"en": ("Preserving digital evidence", _body(
                "Evidence that is changed cannot be trusted in court. Preserve first, examine later.",
                "Isolate the device from networks", "Make a forensic copy and record its hash", "Document every step in the chain of custody")),
             "es": ("Preservar las pruebas digitales", _body(
                "Una prueba alterada pierde su valor ante el tribunal. Primero se preserva, después se examina.",
                "Aísle el dispositivo de las redes", "Haga una copia forense y registre su hash", "Documente cada paso de la cadena de custodia")),
             "fr": ("Préserver la preuve numérique", _body(
                "Une preuve modifiée ne vaut plus rien devant le tribunal. On préserve d'abord, on examine ensuite.",
                "Isolez l'appareil des réseaux", "Réalisez une copie forensique et notez son empreinte", "Documentez chaque étape de la chaîne de possession")),
             "pt": ("Preservar a prova digital", _body(
                "Uma prova alterada perde o valor no tribunal. Primeiro preserve, depois examine.",
                "Isole o dispositivo das redes", "Faça uma cópia forense e registre o seu hash", "Documente cada etapa da cadeia de custódia")),
             "ar": ("حفظ الدليل الرقمي", _body(
                "الدليل الذي يتغيّر لا يُعتدّ به أمام المحكمة. احفظ أولًا ثم افحص.",
                "اعزل الجهاز عن الشبكات", "أنشئ نسخة جنائية وسجّل بصمتها", "وثّق كل خطوة في سلسلة الحيازة"))},
            {"en": ("Working with online platforms", _body(
                "Platforms hold data that can identify offenders and victims, but only for a limited time.",
                "Send a preservation request as soon as an account is known", "Use the platform's law-enforcement portal",
                "Follow the legal process of the country where the data is held")),
             "es": ("Trabajar con las plataformas en línea", _body(
                "Las plataformas guardan datos que pueden identificar a agresores y víctimas, pero solo durante un tiempo limitado.",
                "Envíe una solicitud de conservación en cuanto se conozca una cuenta", "Use el portal de la plataforma para las fuerzas del orden",
                "Siga el procedimiento legal del país donde se guardan los datos")),
             "fr": ("Travailler avec les plateformes en ligne", _body(
                "Les plateformes détiennent des données qui peuvent identifier auteurs et victimes, mais pour une durée limitée.",
                "Envoyez une demande de conservation dès qu'un compte est connu", "Utilisez le portail de la plateforme réservé aux forces de l'ordre",
                "Suivez la procédure légale du pays où les données sont stockées")),
             "pt": ("Trabalhar com as plataformas on-line", _body(
                "As plataformas guardam dados que podem identificar agressores e vítimas, mas apenas por tempo limitado.",
                "Envie um pedido de preservação assim que uma conta for conhecida", "Use o portal da plataforma para as forças da lei",
                "Siga o procedimento legal do país onde os dados estão armazenados")),
             "ar": ("التعامل مع المنصات الإلكترونية", _body(
                "تحتفظ المنصات ببيانات يمكن أن تحدد هوية الجناة والضحايا، ولكن لمدة محدودة فقط.",
                "أرسل طلب حفظ البيانات فور معرفة الحساب", "استخدم بوابة المنصة المخصصة لجهات إنفاذ القانون",
                "اتبع الإجراءات القانونية للبلد الذي تُحفظ فيه البيانات"))},
            {"en": ("Identifying victims", _body(
                "Behind every image is a child who may still be at risk. Identifying them comes before everything else.",
                "Look for clues in the background: objects, languages, places", "Check international databases before starting anew",
                "Share leads with specialised victim-identification units")),
             "es": ("Identificar a las víctimas", _body(
                "Detrás de cada imagen hay un niño o una niña que puede seguir en peligro. Identificarlo es lo primero.",
                "Busque pistas en el fondo: objetos, idiomas, lugares", "Consulte las bases de datos internacionales antes de empezar de cero",
                "Comparta las pistas con las unidades especializadas en identificación de víctimas")),
             "fr": ("Identifier les victimes", _body(
                "Derrière chaque image se trouve un enfant qui peut encore être en danger. L'identifier passe avant tout.",
                "Cherchez des indices à l'arrière-plan : objets, langues, lieux", "Consultez les bases de données internationales avant de repartir de zéro",
                "Partagez les pistes avec les unités spécialisées dans l'identification des victimes")),
             "pt": ("Identificar as vítimas", _body(
                "Por trás de cada imagem há uma criança que pode continuar em risco. Identificá-la vem antes de tudo.",
                "Procure pistas no fundo da imagem: objetos, idiomas, lugares", "Consulte as bases de dados internacionais antes de recomeçar do zero",
                "Compartilhe as pistas com as unidades especializadas em identificação de vítimas")),
             "ar": ("تحديد هوية الضحايا", _body(
                "وراء كل صورة طفل قد يظل في خطر. تحديد هويته يسبق كل شيء آخر.",
                "ابحث عن أدلة في الخلفية: أغراض ولغات وأماكن", "راجع قواعد البيانات الدولية قبل البدء من الصفر",
                "شارك الخيوط مع الوحدات المتخصصة في تحديد هوية الضحايا"))},
        ]},
    ],
    "quiz": [
        {"text": {"en": "Which is the first step with a seized device?",
                  "es": "¿Cuál es el primer paso con un dispositivo incautado?",
                  "fr": "Quelle est la première étape avec un appareil saisi ?",
                  "pt": "Qual é o primeiro passo com um dispositivo apreendido?",
                  "ar": "ما الخطوة الأولى مع جهاز مضبوط؟"},
         "choices": [
            ({"en": "Preserve it unchanged", "es": "Conservarlo sin alteraciones", "fr": "Le préserver sans le modifier",
              "pt": "Preservá-lo sem alterações", "ar": "حفظه دون أي تغيير"}, True),
            ({"en": "Browse its files", "es": "Revisar sus archivos", "fr": "Parcourir ses fichiers",
              "pt": "Navegar pelos arquivos", "ar": "تصفّح ملفاته"}, False),
         ]},
    ],
}

SCHOOLS = {
    "slug": "proteccion-en-la-escuela",
    "language": "es",
    "sectors": ["education", "social_services"],
    "estimated_minutes": 60,
    "texts": {
        "es": ("Protección infantil en la escuela", "Cómo los docentes detectan y derivan los casos de riesgo."),
        "en": ("Child protection at school", "How teachers spot and refer children at risk."),
        "fr": ("La protection de l'enfance à l'école", "Comment les enseignants repèrent et signalent les situations à risque."),
        "pt": ("Proteção infantil na escola", "Como os professores identificam e encaminham casos de risco."),
        "ar": ("حماية الطفل في المدرسة", "كيف يكتشف المعلمون حالات الخطر ويُحيلونها."),
    },
    "modules": [
        {"title": {"es": "Detección", "en": "Detection", "fr": "Repérage", "pt": "Detecção", "ar": "الكشف"},
         "lessons": [
            {"es": ("Señales de alerta en el aula", _body(
                "El docente ve al alumno todos los días: es quien mejor nota los cambios.",
                "Cambios bruscos de rendimiento o de conducta", "Lesiones sin explicación coherente",
                "Miedo a volver a casa o a un adulto concreto")),
             "en": ("Warning signs in the classroom", _body(
                "Teachers see pupils every day, so they are the first to notice change.",
                "Sudden changes in schoolwork or behaviour", "Injuries without a consistent explanation",
                "Fear of going home or of a particular adult")),
             "fr": ("Les signaux d'alerte en classe", _body(
                "L'enseignant voit l'élève chaque jour : c'est lui qui remarque le mieux les changements.",
                "Des changements brusques de résultats ou de comportement", "Des blessures sans explication cohérente",
                "La peur de rentrer chez soi ou d'un adulte en particulier")),
             "pt": ("Sinais de alerta na sala de aula", _body(
                "O professor vê o aluno todos os dias: é quem melhor percebe as mudanças.",
                "Mudanças bruscas no desempenho ou no comportamento", "Lesões sem explicação coerente",
                "Medo de voltar para casa ou de um adulto específico")),
             "ar": ("علامات التحذير في الصف", _body(
                "يرى المعلم التلميذ كل يوم، فهو أول من يلاحظ التغيّرات.",
                "تغيّرات مفاجئة في التحصيل أو السلوك", "إصابات دون تفسير متّسق",
                "الخوف من العودة إلى المنزل أو من شخص بالغ بعينه"))},
            {"es": ("El protocolo de derivación", _body(
                "Ante una sospecha, el docente no investiga: informa según el protocolo del centro.",
                "Comunique la sospecha a la dirección o al orientador", "Registre los hechos observados, sin juicios",
                "La dirección notifica a los servicios sociales o a la fiscalía")),
             "en": ("The referral protocol", _body(
                "When in doubt, a teacher does not investigate: they report under the school's protocol.",
                "Tell the head teacher or the school counsellor", "Record what you observed, without judgement",
                "The school notifies social services or the prosecutor")),
             "fr": ("Le protocole de signalement", _body(
                "En cas de doute, l'enseignant n'enquête pas : il informe selon le protocole de l'établissement.",
                "Informez la direction ou le conseiller d'orientation", "Consignez les faits observés, sans jugement",
                "La direction saisit les services sociaux ou le parquet")),
             "pt": ("O protocolo de encaminhamento", _body(
                "Diante de uma suspeita, o professor não investiga: comunica segundo o protocolo da escola.",
                "Informe a direção ou o orientador educacional", "Registre os fatos observados, sem julgamentos",
                "A direção notifica o conselho tutelar ou os serviços sociais")),
             "ar": ("بروتوكول الإحالة", _body(
                "عند الشك لا يحقّق المعلم بنفسه، بل يُبلغ وفق بروتوكول المدرسة.",
                "أبلغ الإدارة أو المرشد المدرسي", "سجّل الوقائع التي لاحظتها دون إصدار أحكام",
                "تُخطر الإدارة الخدمات الاجتماعية أو النيابة العامة"))},
        ]},
    ],
}

FINANCE = {
    "slug": "signalements-financiers",
    "language": "fr",
    "sectors": ["financial"],
    "certificate_validity_months": 12,
    "texts": {
        "fr": ("Signalements financiers et exploitation", "Repérer les flux financiers liés à l'exploitation des enfants."),
        "en": ("Financial reporting and exploitation", "Spotting money flows linked to child exploitation."),
        "es": ("Reportes financieros y explotación", "Detectar los flujos de dinero vinculados a la explotación infantil."),
        "pt": ("Comunicações financeiras e exploração", "Identificar fluxos financeiros ligados à exploração infantil."),
        "ar": ("البلاغات المالية والاستغلال", "رصد التدفقات المالية المرتبطة باستغلال الأطفال."),
    },
    "modules": [
        {"title": {"fr": "Typologies", "en": "Typologies", "es": "Tipologías", "pt": "Tipologias", "ar": "الأنماط"},
         "lessons": [
            {"fr": ("Les flux financiers suspects", _body(
                "L'exploitation en ligne laisse des traces de paiement, souvent de petits montants répétés.",
                "Des virements de faible montant vers des pays à risque", "Des paiements à des plateformes de diffusion en direct",
                "L'achat de cryptoactifs juste avant ces paiements")),
             "en": ("Suspicious money flows", _body(
                "Online exploitation leaves a payment trail, often of small, repeated amounts.",
                "Small transfers to high-risk countries", "Payments to live-streaming platforms",
                "Crypto-asset purchases just before those payments")),
             "es": ("Los flujos financieros sospechosos", _body(
                "La explotación en línea deja rastros de pago, a menudo importes pequeños y repetidos.",
                "Transferencias de poco importe hacia países de riesgo", "Pagos a plataformas de transmisión en directo",
                "Compra de criptoactivos justo antes de esos pagos")),
             "pt": ("Os fluxos financeiros suspeitos", _body(
                "A exploração on-line deixa rastros de pagamento, muitas vezes de valores pequenos e repetidos.",
                "Transferências de baixo valor para países de risco", "Pagamentos a plataformas de transmissão ao vivo",
                "Compra de criptoativos pouco antes desses pagamentos")),
             "ar": ("التدفقات المالية المشبوهة", _body(
                "يترك الاستغلال عبر الإنترنت آثار دفع، غالبًا بمبالغ صغيرة متكررة.",
                "تحويلات صغيرة إلى بلدان عالية المخاطر", "مدفوعات لمنصات البث المباشر",
                "شراء أصول مشفّرة قبيل هذه المدفوعات مباشرة"))},
            {"fr": ("Déclarer une opération suspecte", _body(
                "La déclaration de soupçon protège l'enfant et l'établissement : elle se fait sans prévenir le client.",
                "Rassemblez les opérations et les motifs du soupçon", "Transmettez la déclaration à la cellule de renseignement financier",
                "Ne révélez jamais la déclaration au client")),
             "en": ("Reporting a suspicious transaction", _body(
                "A suspicious activity report protects the child and the institution; it is made without alerting the customer.",
                "Gather the transactions and the grounds for suspicion", "Send the report to the financial intelligence unit",
                "Never disclose the report to the customer")),
             "es": ("Reportar una operación sospechosa", _body(
                "El reporte de operación sospechosa protege al niño y a la entidad; se hace sin avisar al cliente.",
                "Reúna las operaciones y los motivos de la sospecha", "Envíe el reporte a la unidad de inteligencia financiera",
                "Nunca revele el reporte al cliente")),
             "pt": ("Comunicar uma operação suspeita", _body(
                "A comunicação de operação suspeita protege a criança e a instituição; é feita sem alertar o cliente.",
                "Reúna as operações e os motivos da suspeita", "Envie a comunicação à unidade de inteligência financeira",
                "Nunca revele a comunicação ao cliente")),
             "ar": ("الإبلاغ عن معاملة مشبوهة", _body(
                "يحمي الإبلاغ عن الاشتباه الطفلَ والمؤسسة، ويتم دون تنبيه العميل.",
                "اجمع المعاملات وأسباب الاشتباه", "أرسل البلاغ إلى وحدة الاستخبارات المالية",
                "لا تكشف البلاغ للعميل أبدًا"))},
        ]},
    ],
}

HEALTH = {
    "slug": "hemaya-atfal",
    "language": "ar",
    "sectors": ["health", "social_services"],
    "texts": {
        "ar": ("حماية الأطفال في الخدمات الصحية", "دور العاملين الصحيين في حماية الأطفال."),
        "en": ("Child protection in health services", "The role of health workers in protecting children."),
        "es": ("Protección infantil en los servicios de salud", "El papel del personal sanitario en la protección de la infancia."),
        "fr": ("La protection de l'enfance dans les services de santé", "Le rôle des soignants dans la protection des enfants."),
        "pt": ("Proteção infantil nos serviços de saúde", "O papel dos profissionais de saúde na proteção das crianças."),
    },
    "modules": [
        {"title": {"ar": "المبادئ", "en": "Principles", "es": "Principios", "fr": "Principes", "pt": "Princípios"},
         "lessons": [
            {"ar": ("دور العامل الصحي", _body(
                "قد يكون العامل الصحي الشخص الوحيد خارج الأسرة الذي يرى الطفل. الاستماع والطمأنة والإحالة هي واجباته الأولى.",
                "انتبه للإصابات التي لا تتوافق مع التفسير المقدَّم", "تحدّث مع الطفل على انفراد متى أمكن",
                "ضع مصلحة الطفل الفضلى قبل أي اعتبار آخر")),
             "en": ("The health worker's role", _body(
                "A health worker may be the only person outside the family who sees the child. Listening, reassuring and referring come first.",
                "Notice injuries that do not match the explanation given", "Speak with the child alone when you can",
                "Put the child's best interest before anything else")),
             "es": ("El papel del personal sanitario", _body(
                "El personal sanitario puede ser la única persona ajena a la familia que ve al niño. Escuchar, tranquilizar y derivar es lo primero.",
                "Fíjese en las lesiones que no encajan con la explicación dada", "Hable con el niño a solas cuando sea posible",
                "Anteponga el interés superior del niño a cualquier otra consideración")),
             "fr": ("Le rôle du soignant", _body(
                "Le soignant est parfois la seule personne extérieure à la famille qui voit l'enfant. Écouter, rassurer et orienter passent avant tout.",
                "Repérez les blessures qui ne correspondent pas à l'explication donnée", "Parlez seul à seul avec l'enfant quand c'est possible",
                "Faites passer l'intérêt supérieur de l'enfant avant toute autre considération")),
             "pt": ("O papel do profissional de saúde", _body(
                "O profissional de saúde pode ser a única pessoa fora da família que vê a criança. Escutar, tranquilizar e encaminhar vêm em primeiro lugar.",
                "Observe lesões que não correspondem à explicação dada", "Converse com a criança a sós sempre que possível",
                "Coloque o melhor interesse da criança acima de qualquer outra consideração"))},
            {"ar": ("الفحص والتوثيق والإحالة", _body(
                "التوثيق الدقيق في السجل الطبي قد يكون دليلًا حاسمًا لاحقًا.",
                "صِف الإصابات بدقة مع قياساتها ومواضعها", "انقل كلمات الطفل كما قالها بين علامتي تنصيص",
                "أحِل الحالة إلى فريق الحماية في المرفق أو إلى الجهة المختصة")),
             "en": ("Examining, recording and referring", _body(
                "Careful notes in the medical record can later be decisive evidence.",
                "Describe injuries precisely, with size and location", "Quote the child's own words",
                "Refer to the facility's protection team or the competent authority")),
             "es": ("Examinar, registrar y derivar", _body(
                "Unas notas cuidadosas en la historia clínica pueden ser después una prueba decisiva.",
                "Describa las lesiones con precisión, con tamaño y localización", "Cite las palabras del propio niño",
                "Derive el caso al equipo de protección del centro o a la autoridad competente")),
             "fr": ("Examiner, consigner et orienter", _body(
                "Des notes soigneuses dans le dossier médical peuvent devenir plus tard une preuve décisive.",
                "Décrivez précisément les lésions, avec leur taille et leur localisation", "Citez les mots de l'enfant lui-même",
                "Orientez vers l'équipe de protection de l'établissement ou l'autorité compétente")),
             "pt": ("Examinar, registrar e encaminhar", _body(
                "Anotações cuidadosas no prontuário podem ser, mais tarde, uma prova decisiva.",
                "Descreva as lesões com precisão, com tamanho e localização", "Cite as palavras da própria criança",
                "Encaminhe à equipe de proteção da unidade ou à autoridade competente"))},
        ]},
    ],
}

COURSES = (RECOGNISING, INVESTIGATIONS, SCHOOLS, FINANCE, HEALTH)


def _split(by_language: dict, base: str, make) -> tuple[dict, dict]:
    """The base language's fields and the others' as ``{"es": {...}}``, each built by ``make``."""
    return make(by_language[base]), {lang: make(value) for lang, value in by_language.items() if lang != base}


def course_spec(course: dict) -> dict:
    """One course as ``create_course`` takes it: base texts plus translations at every level."""
    base = course["language"]
    title, summary = course["texts"][base]
    spec = {key: value for key, value in course.items() if key not in ("texts", "modules", "quiz")}
    spec.update(title=title, summary=summary, translations={
        lang: {"title": t, "summary": s} for lang, (t, s) in course["texts"].items() if lang != base})
    spec["modules"] = []
    for module in course["modules"]:
        own, translated = _split(module["title"], base, lambda t: {"title": t})
        lessons = []
        for lesson in module["lessons"]:
            own_lesson, translated_lessons = _split(lesson, base, lambda pair: {"title": pair[0], "body": pair[1]})
            lessons.append({**own_lesson, "translations": translated_lessons})
        spec["modules"].append({**own, "translations": translated, "lessons": lessons})
    if course.get("quiz"):
        questions = []
        for question in course["quiz"]:
            own_q, translated_q = _split(question["text"], base, lambda t: {"text": t})
            choices = []
            for texts, correct in question["choices"]:
                own_c, translated_c = _split(texts, base, lambda t: {"text": t})
                choices.append({**own_c, "correct": correct, "translations": translated_c})
            questions.append({**own_q, "translations": translated_q, "choices": choices})
        spec["quiz"] = {"questions": questions}
    return spec


def course_specs() -> list[dict]:
    return [course_spec(course) for course in COURSES]
