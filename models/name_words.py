"""First names that are also everyday English words ("will", "grace", "may", "key", "major").

The identifier scanner (``models.identifiers``) takes a capitalised word on its own for a
person's first name only if it is not one of these: "Grace periods were extended" and "Will
the partnership accept ..." are ordinary sentences. A pair such as "Grace Wilson" is still a
name (the second word is a known surname).

Generated once, not by hand: the lower-case words of SCOWL's British English word list
(Debian's ``wbritish``, /usr/share/dict/british-english) that are also first names in Faker's
person providers (all locales) or in gender-guesser's name dictionary (the broader of the two
lists, used only here, so that a later Faker release adding such a name is already covered)::

    words = {w.strip() for w in open("/usr/share/dict/british-english") if w.strip().islower()}
    names = faker_first_names | set(gender_guesser.detector.Detector().names)
    sorted({n.lower() for n in names if n.lower() in words})
"""

_WORDS = """
    abbey abed ace ad add admiral ado agate age ago ah aide ailing aiming albino ale alibi alien
    allegro ally almond alpha alter alto am amber ambrosia ameer amir ammo among amour an anemone
    angel angelic ani anon ant ante anti ants arcade arch archer are ares aria arise art arty
    ascension aspen asset astride ate atlas atty august auk aura author autumn azalea babe baby
    bailing baker bale ban bang banks baptist barb barney baron basil bassi bay be beat beau bee
    beer bell belle bent berg berry berth beryl bet beta bide bilge bill billy bin bird birdie
    bishop bitten blanch blaze blessing bliss blossom bob bobby bode bog boga bogey bong boning
    bonnie bonny boo bore boss bowman boy brad brain branch brand brandy brogan brook brooks brown
    brunette buck bud buddy bum bun bunk bunny burg burns burr bush buster butch butler buzz caddie
    cadence cairn cal calliope cam camellia can canal cancan candy cannon canyon cap caprice captain
    carmine carol carry case cash cassia cat celesta cerise chad champ chance chancy chandler
    charity chase chastity cherish cherry chi chiming chin china chino chip christen chuck cilia
    cinnamon clay cleave clement cliff cock colas colleen collie collier colon colonel colt comfort
    commodore con constant cooper coral cord core corona council coy creed crystal cu curd curt dado
    dahlia daisy dale dare darling davit dawn deacon dean deb deep deforest deli dell delta derrick
    dervish desiderata desire despot destiny diamond dick dickie dicky diet dieter dime dimple din
    dine ding dink dip dirk ditty diva divan do doc dock doctor dodo doll dolly don donate done door
    dory dot dotty dove drake drew dries due duff duke dun dung duo dusty ea ear earl early earnest
    ebb ebony echo ed eddy edger edit eglantine eider eke elder elide ell else ember emerald emery
    emir emit emo era ergo ermine essence ester eta ether eve even ever fa fair fairy faith fan
    fancy fang fanny fares fate fawn fed fedora fee felicity feline fem fen fer fern ferry feta fie
    fielding file fine finis finny firth fisher five fleet flint flip floor flora florin ford forest
    forum foster fount franc frank free freeman french fried friend fuller fuming gab gad gait gal
    gala gale gang garland garner garnet garret garrison gauge gay gee geek gees gelt gen gene
    general genesis genie gent gentian gentile germ gill ginger glen go golden gong goo gore gorge
    governor grace grad grant graves green greet griffin grit grove gull gully gun gunner gurney
    gust gusts guy guying ha hack hailing hale hall ham hamlet handy hang hank harden hardy hark
    harm harmony harry harsh hart hat haven hay hays hazel he heath heather heaven hector helm hence
    henna hens herald herb here hero hew hexing hey hi hie hill hilly hind his ho hoc hod hoe holly
    homer honey hope hue hung hunt hunter hymen ice icy ideal ids imam immaculate impress in infant
    innocent ion iris ivory ivy jack jade jail jarred jasmine jasper jawed jay jeep jehad jell jelly
    jerk jet jetty jewel jihad jilt jimmy jingling jinxing job jock john joke jolly josh journey joy
    judge julienne junior just justice kale karma ken key kick kin kinda king kit kitty kook lacy
    laddie lady lam lama lame lance lander lane lap lard lark lassie laurel lavender lawyer laze lea
    leafy lean leaner lee lefter lei lemma lemon less levy liberty lichen lie lien lies lieu lii
    lily liming linden line lining link lion lisle lite little llanos lo loan lode lone long loot
    lope lore lorry lot love loyal lucky lute lyric ma mace mad madden made mads magnolia major male
    mall man mane mania manly manna manning manor mans mar march mare margarita maria marina marine
    mark marks marlin maroon marquis marquise marry mars marsh marshal mart marten martial martin
    marvel mason mat mate mats matt matts maverick max maxim maxima may mayo maze me meadow media
    meg melody men mentor mercy merge merino merit merrily merry messiah meta mete metro mi mica
    mickey mien miens mike mile miles miller mills mimes min mine miner minor miracle mist misty
    mite mitre mo moire moo moody moon moos moray mu murk my myrtle nacho nadir nail nailing nanny
    narcissus nay nest newt newton nick nickel night nil nine ninja nirvana noble noel non nonce
    north nova novel novella nu oak octave odd ode oh okay olive on one opal oral orange oriole ova
    owe oz pace paddy page paisley pal pan pansy parfait park parley parry paschal pasha pastor pat
    pate patience patsy patty pave paw peace pearl pearly peep peer peg pen penny pepper per peter
    petrel petty phoebe phoenix pica pie pier pierce piers piety pile pin ping pink pinkie pinto pip
    piper pit pleas pleasant pol polo poppy porter precious press price prince princess prosper
    prudence prudent prune puck purity purl quarto queen raid rail rain rainier raja rajah ram ran
    randy ransom rares rattan raven ray reason red redden redo reed reeve rein revert rhea rice rich
    rick ridge rile rim rink rinse rip river roan roar rob robin rock rocky rod roe roger rogers
    roll romaine roman rose rosemary rosette rosy rowdy royal rube ruby ruining run rune ruse rush
    rusty rut rye sable sad safari saga sage sahib said saint sake saki salami saline sally salmon
    salvo sander sanders sandy saner sang sari savanna savannah save saviour sawyer scarlet semen
    senna sera serenity serge server sever shad shade shady shaker sham shandy shepherd sherry shim
    shin shouting shun sibyl side sierra silo silvan silver sim sin sincere sine sing sissy sister
    siting skip sky slave slim smith so sol sole solo sols son sonata song sonny soon sop spas
    spring squire stamen star starling stein sterling stern steward stole stone stonewall stoney
    storm stormy sub sue sultan sultana summer sun sung sunny sunshine sup swan sylvan tab taco tad
    take tale talon tam tamer tan tang tanner tare taro tat tawny tea tell terry than the thees
    theta thin tho thong ti tiara tie ties tilde till tin tine ting tiny to toe toke tom tome toms
    ton tone tong tony tor tore toy trace tram treasure trees trinity tron troy true tuba tucker
    tuna turner tutu uh unique unity unknown unnamed unto urban us valentine valid valve valves van
    veer velvet vents veranda verbena verity vernal vessel vi vibe vice victor victory villa viola
    violet visa vital viva wade wadi wage wail waldo walker wan wander ward warren wash watt way
    weaver wellington wells wen west wheeler whit wilder will willow wilt win windy wing winter wit
    wolf wolfram won woo wood woody worth wren wright xi yaw ye yen yo yoga yon you young yup zed
    zeta
"""

FIRST_NAMES_THAT_ARE_WORDS = frozenset(_WORDS.split())
